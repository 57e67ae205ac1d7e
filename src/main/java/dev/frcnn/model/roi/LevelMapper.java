package dev.frcnn.model.roi;

import dev.frcnn.model.utils.BoxOps;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * torchvision 0.14's {@code LevelMapper} (Feature Pyramid Networks paper, eq. 1): the pyramid level of each box,
 * {@code clamp(floor(k0 + log2(sqrt(area) / s0) + eps), kMin, kMax) - kMin}, every step in float32 as torchvision
 * (the area is {@code (x2 - x1) * (y2 - y1)}; eps is float32(1e-6)).
 */
public final class LevelMapper {
    /** torchvision's canonical level k0. */
    public static final int CANONICAL_LEVEL = 4;
    /** torchvision's canonical box size s0 (ImageNet's 224). */
    public static final int CANONICAL_SCALE = 224;
    /** torchvision's eps. */
    public static final double EPS = 1e-6;

    private final int kMin;
    private final int kMax;
    private final int canonicalScale;
    private final int canonicalLevel;
    private final double eps;

    /**
     * @param kMin the finest level (-log2 of the largest feature scale; 2 for the FPN's '0')
     * @param kMax the coarsest level (5 for the FPN's '3')
     * @param canonicalScale s0
     * @param canonicalLevel k0
     * @param eps added before the floor
     * @throws IllegalArgumentException if {@code kMin > kMax}
     */
    public LevelMapper(int kMin, int kMax, int canonicalScale, int canonicalLevel, double eps) {
        if (kMin > kMax) throw new IllegalArgumentException("LevelMapper: kMin " + kMin + " > kMax " + kMax);
        this.kMin = kMin;
        this.kMax = kMax;
        this.canonicalScale = canonicalScale;
        this.canonicalLevel = canonicalLevel;
        this.eps = eps;
    }

    /** As torchvision's {@code initLevelMapper(kMin, kMax)}: s0 224, k0 4, eps 1e-6. */
    public LevelMapper(int kMin, int kMax) {
        this(kMin, kMax, CANONICAL_SCALE, CANONICAL_LEVEL, EPS);
    }

    /** The finest level. */
    public int kMin() { return kMin; }

    /** The coarsest level. */
    public int kMax() { return kMax; }

    /**
     * @param boxes (R, 4) float32 (x1, y1, x2, y2) in resized-image pixels (all images' boxes concatenated)
     * @return (R,) int64 level index in [0, kMax - kMin]
     */
    public Tensor apply(Tensor boxes) {
        Tensor s = BoxOps.boxArea(boxes).sqrt();
        Tensor lvl = s.div(new Scalar((double) canonicalScale)).log2().add(new Scalar((double) canonicalLevel))
                .add(new Scalar((double) (float) eps)).floor();
        lvl = lvl.clamp(new ScalarOptional(new Scalar((double) kMin)), new ScalarOptional(new Scalar((double) kMax)));
        return lvl.to(ScalarType.Long).sub(new Scalar((long) kMin));
    }
}
