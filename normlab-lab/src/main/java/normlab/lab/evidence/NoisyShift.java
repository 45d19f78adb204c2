package normlab.lab.evidence;

import normlab.nn.Module;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;

/**
 * "Noisy BN" (Santurkar et al. 2018, §2.1): injected covariate shift after a BatchNorm. In training, every forward
 * draws a fresh per-unit scale and shift and applies them to the whole batch, so each unit's distribution moves at
 * every step; in evaluation the layer is the identity (the noise has scale 1 and shift 0 on average).
 * <pre>
 *   s_c ~ U(1 − a, 1 + a),  m_c ~ U(−b, b)   (per unit c, per step)
 *   y = s_c·x + m_c,        dx = s_c·dy
 * </pre>
 * {@link #hold(boolean)} keeps the last draw, so a landscape probe sees one fixed function.
 */
public final class NoisyShift extends Module {
    public final double scaleNoise, shiftNoise;
    private final Rng rng;
    private float[] s, m;
    private boolean hold;
    private int units;

    static {
        // A model file type, so that a training checkpoint (a model file) of a network with this layer can be written.
        // Like a loaded Dropout, a loaded layer draws from a fixed seed; a checkpoint restores the generator itself.
        normlab.io.LayerSpecs.register(normlab.io.LayerSpecs.leaf("NoisyShift", NoisyShift.class,
                m -> normlab.io.LayerTypes.args("scale_noise", m.scaleNoise, "shift_noise", m.shiftNoise),
                a -> new NoisyShift(a.number("scale_noise"), a.number("shift_noise"), new Rng(0))));
    }

    public NoisyShift(double scaleNoise, double shiftNoise, Rng rng) {
        this.scaleNoise = scaleNoise;
        this.shiftNoise = shiftNoise;
        this.rng = rng;
    }

    /** While on, forwards reuse the last scale and shift instead of drawing new ones. */
    public void hold(boolean on) {
        hold = on;
    }

    @Override
    public Tensor forward(Tensor x) {
        requireRank(x, 2);
        int n = x.dim(0), c = x.dim(1);
        units = c;
        if (!isTraining()) {
            s = null;
            return x.copy();
        }
        if (!hold || s == null || s.length != c) {
            s = new float[c];
            m = new float[c];
            for (int k = 0; k < c; k++) {
                s[k] = (float) (1 - scaleNoise + 2 * scaleNoise * rng.nextDouble());
                m[k] = (float) (-shiftNoise + 2 * shiftNoise * rng.nextDouble());
            }
        }
        Tensor y = Tensor.zeros(n, c);
        // y = s_c·x + m_c
        for (int i = 0; i < n; i++) for (int k = 0; k < c; k++) y.data[i * c + k] = s[k] * x.data[i * c + k] + m[k];
        return y;
    }

    /** Its generator and last draw as one string (exact), for a checkpoint; {@link #restoreState} sets them back. */
    public String saveState() {
        long[] r = rng.state();
        double[] sm = new double[s == null ? 0 : 2 * s.length];
        for (int k = 0; s != null && k < s.length; k++) {
            sm[k] = s[k];
            sm[s.length + k] = m[k];
        }
        return Long.toHexString(r[0]) + ";" + Long.toHexString(r[1]) + ";" + r[2] + ";" + units + ";" + RunControl.hex(sm);
    }

    /** Restores what {@link #saveState} wrote. */
    public void restoreState(String text) {
        String[] p = text.split(";", -1);
        if (p.length != 5) throw new IllegalArgumentException("NoisyShift state '" + text + "' is not five fields");
        rng.setState(new long[] {Long.parseUnsignedLong(p[0], 16), Long.parseUnsignedLong(p[1], 16), Long.parseLong(p[2])});
        units = Integer.parseInt(p[3]);
        double[] sm = RunControl.unhex(p[4]);
        if (sm.length == 0) {
            s = null;
            m = null;
        } else {
            int c = sm.length / 2;
            s = new float[c];
            m = new float[c];
            for (int k = 0; k < c; k++) {
                s[k] = (float) sm[k];
                m[k] = (float) sm[c + k];
            }
        }
    }

    @Override
    public Tensor backward(Tensor dy) {
        Tensor dx = dy.copy();
        if (s == null) return dx;
        // dx = s_c·dy
        for (int i = 0; i < dx.data.length; i++) dx.data[i] *= s[i % units];
        return dx;
    }
}
