package normlab.kernels;

/**
 * How {@link GroupKernels} read a tensor: (A, P, G, Q) row-major, each (a, g) one group of M = P·Q values at offsets
 * ((a·P + p)·G + g)·Q + q, and {@code inner} consecutive values of a group sharing one affine coefficient (affine
 * index of (g, q): g·(Q/inner) + q/inner). Every per-sample normalization is one of these views of its input:
 * <pre>
 *   LayerNorm over the last D values      A = rows, P = 1,   G = 1,  Q = D,           inner = 1
 *   GroupNorm, NCHW (N, C, S)             A = N,    P = 1,   G = G,  Q = (C/G)·S,     inner = S   (contiguous rows)
 *   GroupNorm, NHWC (N, S, C)             A = N,    P = S,   G = G,  Q = C/G,         inner = 1   (strided, no copy)
 *   InstanceNorm (N, C, S)                A = N,    P = 1,   G = C,  Q = S,           inner = S
 * </pre>
 */
public record GroupView(int a, int p, int g, int q, int inner) {
    /** LayerNorm: {@code rows} rows of {@code d} values, an elementwise affine. */
    public static GroupView rows(int rows, int d) {
        return new GroupView(rows, 1, 1, d, 1);
    }

    /** InstanceNorm: each (sample, channel) plane of {@code s} values is a group, one affine coefficient per channel. */
    public static GroupView instances(int n, int c, int s) {
        return new GroupView(n, 1, c, s, s);
    }

    /** GroupNorm, channels first: {@code groups} groups of {@code perGroup} channels of {@code s} values per sample. */
    public static GroupView channelsFirst(int n, int groups, int perGroup, int s) {
        return new GroupView(n, 1, groups, perGroup * s, s);
    }

    /** GroupNorm, channels last: per sample {@code s} positions of {@code groups} groups of {@code perGroup} channels. */
    public static GroupView channelsLast(int n, int s, int groups, int perGroup) {
        return new GroupView(n, s, groups, perGroup, 1);
    }

    /** Number of groups, A·G: the length of the mean and rstd arrays. */
    public int groups() {
        return a * g;
    }

    /** Whether every group is one contiguous row of Q values (P == 1). */
    public boolean contiguous() {
        return p == 1;
    }
}
