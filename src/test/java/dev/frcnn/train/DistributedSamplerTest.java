package dev.frcnn.train;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link DistributedSampler} against PyTorch's {@code DistributedSampler(shuffle=True, drop_last=False)}, written
 * out here as its source does it: {@code indices += indices[:padding_size]} (repeated when the padding is longer than
 * the epoch), then {@code indices[rank:total_size:num_replicas]}.
 */
class DistributedSamplerTest {
    private static final long SEED = 7;

    /** Dataset indices 3, 5, 7, ...: not 0..n-1, so that a position is never mistaken for an index. */
    private static List<Integer> trainable(int n) {
        return IntStream.range(0, n).mapToObj(i -> 3 + 2 * i).toList();
    }

    /** PyTorch's {@code __iter__} over the permutation {@code order}. */
    private static int[] pytorch(int[] order, int rank, int worldSize) {
        int numSamples = (int) Math.ceil(order.length / (double) worldSize);
        int total = numSamples * worldSize;
        List<Integer> indices = new ArrayList<>(Arrays.stream(order).boxed().toList());
        int padding = total - indices.size();
        if (padding <= indices.size()) {
            indices.addAll(new ArrayList<>(indices.subList(0, padding)));
        } else {
            List<Integer> rep = new ArrayList<>();
            for (int k = 0; k < (int) Math.ceil(padding / (double) indices.size()); k++) rep.addAll(indices);
            indices.addAll(rep.subList(0, padding));
        }
        List<Integer> mine = new ArrayList<>();
        for (int i = rank; i < total; i += worldSize) mine.add(indices.get(i));
        return mine.stream().mapToInt(Integer::intValue).toArray();
    }

    @Test
    void oneProcessTrainsInExactlyTheSingleProcessOrder() {
        for (int epoch = 0; epoch < 3; epoch++) {
            DistributedSampler s = new DistributedSampler(trainable(11), SEED, 0, 1);
            assertThat(s.indices(epoch)).isEqualTo(Seeds.epochOrder(trainable(11), SEED, epoch));
            assertThat(DistributedSampler.single(trainable(11), SEED).indices(epoch))
                    .isEqualTo(Seeds.epochOrder(trainable(11), SEED, epoch));
            assertThat(s.numSamples()).isEqualTo(11);
            assertThat(s.sampleIndex(41, 1, 0)).isEqualTo(41);
            assertThat(s.sampleIndex(41, 3, 2)).isEqualTo(41 * 3 + 2);
            assertThat(s.samplesDone(5)).isEqualTo(5);
            assertThat(s.stepsDone(5)).isEqualTo(5);
        }
    }

    @Test
    void ranksTakeStridedPositionsOfTheEpochPermutationPaddedByItsHead() {
        for (int n : new int[]{1, 2, 5, 10, 12}) {
            for (int w : new int[]{2, 3, 4, 7}) {
                for (int epoch = 0; epoch < 2; epoch++) {
                    int[] order = Seeds.epochOrder(trainable(n), SEED, epoch);
                    List<Integer> all = new ArrayList<>();
                    for (int r = 0; r < w; r++) {
                        DistributedSampler s = new DistributedSampler(trainable(n), SEED, r, w);
                        int[] mine = s.indices(epoch);
                        assertThat(mine).as("n=%d W=%d rank %d epoch %d", n, w, r, epoch)
                                .isEqualTo(pytorch(order, r, w));
                        assertThat(mine).hasSize((n + w - 1) / w);
                        assertThat(s.numSamples()).isEqualTo(mine.length);
                        for (int x : mine) all.add(x);
                    }
                    // together the ranks cover every image of the epoch
                    assertThat(all).containsAll(trainable(n)).hasSize(((n + w - 1) / w) * w);
                }
            }
        }
    }

    @Test
    void stepSOfRankRIsPositionSWPlusROfTheSingleProcessOrder() {
        int n = 9, w = 2;
        int[] order = Seeds.epochOrder(trainable(n), SEED, 4);
        for (int r = 0; r < w; r++) {
            DistributedSampler s = new DistributedSampler(trainable(n), SEED, r, w);
            int[] mine = s.indices(4);
            for (int step = 0; step < mine.length; step++) {
                assertThat(mine[step]).isEqualTo(order[(step * w + r) % n]);
                assertThat(s.sampleIndex(step, 1, 0)).isEqualTo(step * w + r);
            }
        }
    }

    /**
     * With {@code B} images per step, rank r's image i of step s is its share's position {@code s*B + i}; its sample
     * index (which seeds its anchor and RoI sampling) is that image's position in the single-process order, so the
     * seed follows the image for every world size and batch size.
     */
    @Test
    void anImagesSampleIndexIsItsPositionInTheSingleProcessOrder() {
        int n = 12;
        int[] order = Seeds.epochOrder(trainable(n), SEED, 0);
        for (int[] wb : new int[][]{{1, 1}, {1, 4}, {2, 1}, {2, 2}, {3, 2}, {4, 3}}) {
            int w = wb[0], b = wb[1];
            for (int r = 0; r < w; r++) {
                DistributedSampler s = new DistributedSampler(trainable(n), SEED, r, w);
                int[] mine = s.indices(0);
                for (int step = 0; step * b < mine.length; step++) {
                    for (int i = 0; i < b && step * b + i < mine.length; i++) {
                        long index = s.sampleIndex(step, b, i);
                        assertThat(mine[step * b + i]).as("W=%d B=%d rank %d step %d image %d", w, b, r, step, i)
                                .isEqualTo(order[(int) index]);
                        // the next epoch's images continue the run's numbering
                        assertThat(s.sampleIndex(step + mine.length / b, b, i)).isEqualTo(index + (long) n);
                    }
                }
            }
        }
    }

    @Test
    void epochsDifferAndRepeat() {
        DistributedSampler s = new DistributedSampler(trainable(20), SEED, 1, 3);
        assertThat(s.indices(0)).isEqualTo(s.indices(0)).isNotEqualTo(s.indices(1));
        assertThat(new DistributedSampler(trainable(20), SEED + 1, 1, 3).indices(0)).isNotEqualTo(s.indices(0));
    }

    @Test
    void positionsConvertBetweenWorldSizesThroughSamples() {
        DistributedSampler two = new DistributedSampler(trainable(9), SEED, 0, 2);
        DistributedSampler three = new DistributedSampler(trainable(9), SEED, 2, 3);
        DistributedSampler one = DistributedSampler.single(trainable(9), SEED);
        assertThat(two.numSamples()).isEqualTo(5);
        assertThat(two.samplesDone(3)).isEqualTo(6);
        assertThat(two.samplesDone(5)).isEqualTo(9); // the padding is not counted
        assertThat(three.stepsDone(6)).isEqualTo(2);
        assertThat(three.stepsDone(7)).isEqualTo(2); // nothing skipped: sample 6 is trained on again
        assertThat(three.stepsDone(9)).isEqualTo(3);
        assertThat(one.stepsDone(two.samplesDone(5))).isEqualTo(9);
        assertThat(two.stepsDone(one.samplesDone(9))).isEqualTo(5);
    }

    @Test
    void invalidShardsAreRefused() {
        assertThatThrownBy(() -> new DistributedSampler(List.of(), SEED, 0, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("no training images to shard");
        assertThatThrownBy(() -> new DistributedSampler(trainable(3), SEED, 2, 2))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("rank must be in 0..1, got 2");
        assertThatThrownBy(() -> new DistributedSampler(trainable(3), SEED, 0, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("worldSize must be >= 1, got 0");
    }
}
