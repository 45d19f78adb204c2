package normlab.bench;

/** Parses JMH shape parameters such as {@code "32x64x56x56"}. */
final class Shapes {
    private Shapes() {}

    static int[] parse(String s) {
        String[] p = s.split("x");
        int[] r = new int[p.length];
        for (int i = 0; i < p.length; i++) r[i] = Integer.parseInt(p[i].trim());
        return r;
    }
}
