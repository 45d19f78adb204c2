package normlab.dist;

/** A collective operation failed on this rank: a peer failed or timed out, or the ranks' calls did not match. */
public class CollectiveException extends RuntimeException {
    public CollectiveException(String message) {
        super(message);
    }
}
