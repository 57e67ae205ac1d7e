package dev.frcnn.train;

import dev.frcnn.tensor.Tensors;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A {@link Sampler} that replays recorded choices (the fixtures' sampled indices of torchvision's {@code randperm}), in
 * call order. Each call checks that the recorded choice has the requested size and lies among the candidates, so a
 * port that asks for other counts or from other candidates fails here.
 */
final class RecordedSampler implements Sampler {
    private final Deque<long[]> recorded = new ArrayDeque<>();
    private final String what;

    /**
     * @param what a name for the messages
     * @param choices the recorded index arrays, in the order of the calls
     */
    RecordedSampler(String what, List<long[]> choices) {
        this.what = what;
        recorded.addAll(choices);
    }

    @Override
    public Tensor choose(Tensor ascendingIndices, long count) {
        assertThat(recorded).as(what + ": more calls than recorded choices").isNotEmpty();
        long[] choice = recorded.removeFirst();
        assertThat((long) choice.length).as(what + ": requested count").isEqualTo(count);
        long[] candidates = Tensors.toLongArray(ascendingIndices);
        for (long c : choice) {
            assertThat(Arrays.binarySearch(candidates, c)).as(what + ": recorded index " + c + " among the candidates")
                    .isGreaterThanOrEqualTo(0);
        }
        return Tensors.fromLongs(choice, choice.length).to(ascendingIndices.device(),
                org.bytedeco.pytorch.global.torch.ScalarType.Long);
    }

    /** @return whether every recorded choice was used */
    boolean exhausted() {
        return recorded.isEmpty();
    }
}
