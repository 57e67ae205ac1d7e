package dev.frcnn.model;

import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.List;

import static org.bytedeco.pytorch.global.torch.zeros;

/**
 * A batch of images of different sizes padded into one tensor: torchvision's {@code ImageList} and the
 * {@code batch_images} step of {@code GeneralizedRCNNTransform}.
 *
 * <p>Each image is copied to the top-left corner of a zero tensor whose height and width are the batch's largest
 * height and width, each rounded up to a multiple of {@code sizeDivisible}; the padding is bottom/right and holds
 * zeros (in whatever space the images are in: after normalisation that is the mean colour, not black). One padded
 * batch implementation serves every batched path (the reference family's {@code batch_size} and torchvision's
 * detectors).
 *
 * @param tensors the padded batch, {@code (N, C, H, W)}, the images' dtype and device
 * @param imageSizes each image's own (unpadded) height and width, in batch order
 */
public record ImageList(Tensor tensors, List<ImageSize> imageSizes) {
    /** @throws IllegalArgumentException if the batch size and the number of sizes differ */
    public ImageList {
        imageSizes = List.copyOf(imageSizes);
        if (tensors.dim() != 4 || tensors.size(0) != imageSizes.size()) {
            throw new IllegalArgumentException("an ImageList needs an (N, C, H, W) tensor and N sizes, got shape "
                    + java.util.Arrays.toString(tensors.sizes().vec().get()) + " and " + imageSizes.size() + " sizes");
        }
    }

    /**
     * Pads images into one batch, as torchvision's {@code GeneralizedRCNNTransform.batch_images}.
     *
     * @param images {@code (C, H, W)} tensors, same channel count, dtype and device; at least one
     * @param sizeDivisible the padded height and width are multiples of this (torchvision: 32); 1 pads only to the
     *     largest image
     * @return the padded {@code (N, C, Hp, Wp)} batch with each image's own size;
     *     {@code Hp = ceil(max H / sizeDivisible) * sizeDivisible}, likewise {@code Wp}
     * @throws IllegalArgumentException if the list is empty, an image is not 3-D, the channel counts differ, or
     *     {@code sizeDivisible < 1}
     */
    public static ImageList pad(List<Tensor> images, int sizeDivisible) {
        if (images.isEmpty()) throw new IllegalArgumentException("an ImageList needs at least one image");
        if (sizeDivisible < 1) throw new IllegalArgumentException("sizeDivisible must be >= 1, got " + sizeDivisible);
        long channels = -1;
        long maxH = 0;
        long maxW = 0;
        List<ImageSize> sizes = new ArrayList<>(images.size());
        for (Tensor im : images) {
            if (im.dim() != 3) {
                throw new IllegalArgumentException("each image must be (C, H, W), got "
                        + java.util.Arrays.toString(im.sizes().vec().get()));
            }
            if (channels >= 0 && im.size(0) != channels) {
                throw new IllegalArgumentException("images have " + channels + " and " + im.size(0) + " channels");
            }
            channels = im.size(0);
            maxH = Math.max(maxH, im.size(1));
            maxW = Math.max(maxW, im.size(2));
            sizes.add(new ImageSize((int) im.size(1), (int) im.size(2)));
        }
        long padH = ceilTo(maxH, sizeDivisible);
        long padW = ceilTo(maxW, sizeDivisible);
        Tensor first = images.get(0);
        Tensor batch = zeros(new long[] {images.size(), channels, padH, padW}, first.options());
        for (int i = 0; i < images.size(); i++) {
            Tensor im = images.get(i);
            batch.get(i).narrow(1, 0, im.size(1)).narrow(2, 0, im.size(2)).copy_(im);
        }
        return new ImageList(batch, sizes);
    }

    /** Number of images. */
    public int size() {
        return imageSizes.size();
    }

    /** Padded height and width of the batch tensor. */
    public ImageSize paddedSize() {
        return new ImageSize((int) tensors.size(2), (int) tensors.size(3));
    }

    private static long ceilTo(long v, int divisor) {
        return (v + divisor - 1) / divisor * divisor;
    }
}
