package dev.frcnn.data;

/**
 * The two input normalisations of the reference ({@code data/dataset.preprocess}, chosen there by
 * {@code opt.caffe_pretrain}).
 */
public enum Normalization {
    /**
     * {@code pytorch_normalze}: RGB order, {@code (x - mean) / std} in float32 with mean (0.485, 0.456,
     * 0.406) and std (0.229, 0.224, 0.225) (both rounded to float32), x in [0, 1]. For torchvision
     * ImageNet weights.
     */
    TORCHVISION,
    /**
     * {@code caffe_normalize}: channels reordered to BGR, {@code x * 255} (float32), then minus
     * (122.7717, 115.9465, 102.9801) from (B, G, R) in float64, rounded to float32. These are the
     * reference's numbers: an RGB-ordered mean subtracted from BGR data. For caffe-converted VGG16 weights.
     */
    CAFFE;

    /**
     * The normalisation a config asks for: the one place of the reference's {@code if opt.caffe_pretrain:
     * caffe_normalize else pytorch_normalze}.
     *
     * @param caffePretrain the config's {@code caffe_pretrain}
     * @return {@link #CAFFE} when true, else {@link #TORCHVISION}
     */
    public static Normalization of(boolean caffePretrain) {
        return caffePretrain ? CAFFE : TORCHVISION;
    }
}
