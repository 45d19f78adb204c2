package normlab.lab.evidence;

/**
 * The one-line verdict on a literature claim, derived from our numbers by a rule written in the experiment's code
 * (never by hand): the claim holds, holds in part, or does not hold in our setting.
 */
public enum Verdict {
    HOLDS("holds"),
    PARTLY("partly"),
    DOES_NOT_HOLD("does not hold here");

    /** The text shown in reports and stored in summary.json. */
    public final String text;

    Verdict(String text) {
        this.text = text;
    }

    /** HOLDS if {@code strong}, else PARTLY if {@code weak}, else DOES_NOT_HOLD. */
    public static Verdict of(boolean strong, boolean weak) {
        return strong ? HOLDS : weak ? PARTLY : DOES_NOT_HOLD;
    }

    /** Parses {@link #text} (as written into summary.json). */
    public static Verdict parse(String s) {
        for (Verdict v : values()) if (v.text.equals(s) || v.name().equalsIgnoreCase(s)) return v;
        throw new IllegalArgumentException("unknown verdict: " + s);
    }
}
