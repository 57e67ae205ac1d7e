package dev.frcnn.dist;

/**
 * A rendezvous or a collective of a {@link DistributedGroup} failed: a peer did not join within the timeout, died,
 * or c10d reported an error. The message is one line that names this process's rank and the cause, e.g.
 * {@code "rank 1 of 2: rendezvous with 127.0.0.1:29500 did not complete within 10 s (connecting to rank 0's store
 * at 127.0.0.1:29500)"}; the group is unusable afterwards and the process should end with exit code 1.
 */
public final class DistributedException extends RuntimeException {
    /**
     * @param message one line: the rank and the cause
     * @param cause c10d's exception, or null
     */
    public DistributedException(String message, Throwable cause) {
        super(message, cause);
    }
}
