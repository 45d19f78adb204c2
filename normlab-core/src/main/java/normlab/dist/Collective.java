package normlab.dist;

/**
 * The collective operations data-parallel training needs, seen from one rank of a group of {@link #size()} replicas.
 * Every rank calls the same operations in the same order (a collective is a rendezvous: it returns only when every
 * rank has called it). Results never depend on timing: reductions add the ranks' contributions in rank order
 * (((r₀ + r₁) + r₂) + …), in double, so every rank gets the same bits on every run.
 *
 * <p>Implementations: {@link ThreadCollective} (replicas as threads of one JVM) and {@link TcpCollective} (replicas
 * anywhere on a network, e.g. Spark barrier tasks). A failed or mismatched call throws a {@link CollectiveException} on every rank that takes part,
 * never a silent hang: a rank that does not arrive within the group's timeout is named in the error.
 */
public interface Collective {
    /** This replica's rank, 0 ≤ rank &lt; size. */
    int rank();

    /** The number of replicas in the group. */
    int size();

    /** Every rank's {@code local} array (lengths may differ), indexed by rank; the same on every rank. */
    double[][] allGather(double[] local);

    /** In place: {@code data[i] ← Σ_r data_r[i]}, summed in rank order; every rank must pass the same length. */
    void allReduceSum(double[] data);

    /**
     * In place: {@code data[i] ← (float) Σ_r data_r[i]}, the sum in double in rank order, rounded once; every rank must
     * pass the same length.
     */
    void allReduceSum(float[] data);

    /** A group of one: every operation returns this rank's own data (a layer used without replicas). */
    Collective SINGLE = new Collective() {
        @Override
        public int rank() {
            return 0;
        }

        @Override
        public int size() {
            return 1;
        }

        @Override
        public double[][] allGather(double[] local) {
            return new double[][] {local.clone()};
        }

        @Override
        public void allReduceSum(double[] data) {}

        @Override
        public void allReduceSum(float[] data) {}
    };
}
