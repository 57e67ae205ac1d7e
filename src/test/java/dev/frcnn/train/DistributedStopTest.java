package dev.frcnn.train;

import dev.frcnn.dist.DistributedGroup;
import dev.frcnn.dist.Rendezvous;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The decision of {@link DistributedStop} from the all-reduced exit codes, and its single-process form. The collective
 * itself, between two workers, is {@link DataParallelStopTest}'s.
 */
class DistributedStopTest {
    private static final StopRequest.Reason TERM = new StopRequest.Reason("SIGTERM", 143);

    @Test
    void aRankReportsItsOwnRequestElseTheLowestRequestingRankByNumber() {
        assertThat(DistributedStop.decide(new double[]{0, 0, 0}, null)).isNull();
        StopRequest.Reason other = DistributedStop.decide(new double[]{0, 130, 143}, null);
        assertThat(other.cause()).isEqualTo("SIGINT to rank 1");
        assertThat(other.exitCode()).isEqualTo(130);
        assertThat(DistributedStop.decide(new double[]{0, 130, 143}, TERM)).isSameAs(TERM);
        assertThat(DistributedStop.decide(new double[]{0, 0, 7}, null).cause())
                .isEqualTo("a stop request (exit code 7) to rank 2");
    }

    @Test
    void withOneProcessThePollIsTheLocalRequestAndStaysOnceSet() {
        StopRequest local = new StopRequest();
        try (DistributedGroup one = DistributedGroup.join(Rendezvous.single())) {
            DistributedStop stop = new DistributedStop(local, one);
            assertThat(stop.poll()).isNull();
            local.request(TERM);
            assertThat(stop.poll()).isSameAs(TERM);
            local.request(new StopRequest.Reason("SIGINT", 130)); // ignored: the first request stays
            assertThat(stop.poll()).isSameAs(TERM);
            assertThat(stop.ofRank(0, 0)).as("rank 0 reported no stop: nothing to add").isNull();
        }
    }
}
