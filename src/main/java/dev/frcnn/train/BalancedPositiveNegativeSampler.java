package dev.frcnn.train;

import dev.frcnn.tensor.Tensors;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

import static org.bytedeco.pytorch.global.torch.cat;

/**
 * torchvision's sampler of training examples
 * ({@code torchvision.models.detection._utils.BalancedPositiveNegativeSampler}, 0.14): per image, at most
 * {@code (int)(batchSizePerImage * positiveFraction)} positives, and negatives to fill the batch.
 *
 * <p>Per image, with labels where {@code >= 1} is positive and {@code 0} negative (anything else is ignored):
 * {@code numPos = min(#positives, (int)(batchSizePerImage * positiveFraction))},
 * {@code numNeg = min(#negatives, batchSizePerImage - numPos)}; the {@link Sampler} picks which (torchvision draws
 * {@code torch.randperm}; a uniform {@link Sampler#seeded} sampler gives the same distribution, and a sampler that
 * returns recorded indices replays a torchvision run). The result is the chosen indices in ascending order, as
 * torchvision's boolean masks give them. Thread-safe if the sampler is.
 */
public final class BalancedPositiveNegativeSampler {
    private final int batchSizePerImage;
    private final double positiveFraction;
    private final Sampler sampler;

    /**
     * The sampled examples of one image.
     *
     * @param positive (P,) int64 indices of the sampled positives, ascending
     * @param negative (Q,) int64 indices of the sampled negatives, ascending
     */
    public record Sample(Tensor positive, Tensor negative) {
        /**
         * The sampled indices in ascending order: {@code where(pos_mask | neg_mask)}, the order in which torchvision's
         * RoI head sees its sampled proposals.
         *
         * @return (P + Q,) int64 indices, ascending
         */
        public Tensor sampled() {
            return cat(new TensorVector(positive, negative), 0).sort(0, false).get0();
        }
    }

    /**
     * A sampler; mirrors {@code BalancedPositiveNegativeSampler(batch_size_per_image, positive_fraction)}.
     *
     * @param batchSizePerImage examples per image, {@code > 0} (RPN 256, RoI head 512)
     * @param positiveFraction the largest share of positives, in [0, 1] (RPN 0.5, RoI head 0.25)
     * @param sampler chooses the kept positives and negatives among the candidates
     * @throws IllegalArgumentException if a number is out of range
     * @throws NullPointerException if {@code sampler} is null
     */
    public BalancedPositiveNegativeSampler(int batchSizePerImage, double positiveFraction, Sampler sampler) {
        if (batchSizePerImage <= 0) throw new IllegalArgumentException("batch_size_per_image must be > 0: " + batchSizePerImage);
        if (!(positiveFraction >= 0 && positiveFraction <= 1)) {
            throw new IllegalArgumentException("positive_fraction must be in [0, 1]: " + positiveFraction);
        }
        this.batchSizePerImage = batchSizePerImage;
        this.positiveFraction = positiveFraction;
        this.sampler = Objects.requireNonNull(sampler, "sampler");
    }

    /** @return examples per image */
    public int batchSizePerImage() {
        return batchSizePerImage;
    }

    /** @return the largest share of positives */
    public double positiveFraction() {
        return positiveFraction;
    }

    /**
     * Samples one image.
     *
     * @param labels (N,) labels of the image's anchors or proposals, any numeric dtype and device: {@code >= 1}
     *     positive, {@code 0} negative, others (-1) ignored
     * @return the sampled indices, on the labels' device
     * @throws IllegalArgumentException if the labels are not 1-D
     */
    public Sample sample(Tensor labels) {
        if (labels == null || labels.dim() != 1) {
            throw new IllegalArgumentException("BalancedPositiveNegativeSampler: labels must be 1-D, got "
                    + (labels == null ? "null" : Tensors.shapeString(labels)));
        }
        Tensor positive = labels.ge(new Scalar(1)).nonzero().view(-1);
        Tensor negative = labels.eq(new Scalar(0)).nonzero().view(-1);
        long numPos = Math.min(positive.size(0), (long) (batchSizePerImage * positiveFraction));
        long numNeg = Math.min(negative.size(0), batchSizePerImage - numPos);
        Tensor pos = sampler.choose(positive, numPos).sort(0, false).get0();
        Tensor neg = sampler.choose(negative, numNeg).sort(0, false).get0();
        return new Sample(pos, neg);
    }

    /**
     * Samples each image in turn (positives, then negatives, per image); mirrors {@code __call__(matched_idxs)}.
     *
     * @param labels per image (N_i,) labels
     * @return per image the sampled indices
     * @throws IllegalArgumentException as {@link #sample(Tensor)}
     */
    public List<Sample> sample(List<Tensor> labels) {
        List<Sample> out = new ArrayList<>(labels.size());
        for (Tensor l : labels) out.add(sample(l));
        return out;
    }

    @Override
    public String toString() {
        return "BalancedPositiveNegativeSampler(batch_size_per_image=" + batchSizePerImage + ", positive_fraction="
                + positiveFraction + ", " + sampler + ")";
    }
}
