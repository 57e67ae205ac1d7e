package dev.frcnn.eval;

import dev.frcnn.data.CocoBox;
import dev.frcnn.data.CocoCategories;
import dev.frcnn.data.DetectionDataset;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The ground truth of {@link CocoEval} made from any {@link DetectionDataset} (a COCO file, or VOC data), so that the
 * COCO metric runs on every dataset the project reads. {@link CocoEval} itself is unchanged: this only builds its
 * input.
 *
 * <p>The images are the dataset's first {@code n} images (the ones the evaluation detected on; an image listed twice
 * is taken once), with their {@link DetectionDataset#imageId} ids; the categories are
 * {@link DetectionDataset#categories()}. Each object of {@link DetectionDataset#annotation} (read for evaluation:
 * difficult objects included) becomes an annotation with {@code bbox} = {@link CocoBox#xywh} of its box,
 * {@code area} = {@link DetectionDataset.Boxes#area} (a COCO file's {@code area}, else {@code w * h}) and
 * {@code iscrowd} 0; each region of {@link DetectionDataset#crowd} one with
 * {@code iscrowd} 1, which pycocotools ignores as a target and inside which it ignores detections. Annotation ids are
 * 1, 2, ... in image order, an image's objects then its crowd regions.
 *
 * <p>This is the ground truth pycocotools reads from the same dataset converted by {@code bin/frcnn convert} (same
 * ids, boxes, areas and order). VOC's {@code difficult} flag is not a COCO notion: pycocotools, reading the converted
 * file, counts difficult objects as ordinary ones, and so does this. For an original COCO file the boxes are those
 * {@code dev.frcnn.data.CocoDataset} reads (float32, clipped to the image; zero-area boxes are refused there), and
 * the areas are the file's; {@code docs/evaluation.md} says when that differs from pycocotools on the file itself.
 */
public final class CocoGroundTruths {
    private CocoGroundTruths() {}

    /**
     * @param data the dataset, read for evaluation
     * @param n how many of its first images were evaluated ({@code min(n, size())} are taken)
     * @return the ground truth
     * @throws dev.frcnn.data.DataException for an annotation the dataset cannot read (names the file)
     */
    public static CocoGroundTruth of(DetectionDataset data, int n) {
        CocoCategories cats = data.categories();
        List<CocoGroundTruth.Category> categories = new ArrayList<>(cats.size());
        for (int l = 0; l < cats.size(); l++) categories.add(new CocoGroundTruth.Category(cats.id(l), cats.name(l)));
        List<CocoGroundTruth.Image> images = new ArrayList<>();
        List<CocoGroundTruth.Annotation> annotations = new ArrayList<>();
        Set<Long> seen = new HashSet<>();
        long annId = 0;
        for (int i = 0; i < Math.min(n, data.size()); i++) {
            long imageId = data.imageId(i);
            if (!seen.add(imageId)) continue;
            images.add(new CocoGroundTruth.Image(imageId, 0, 0, data.imagePath(i).getFileName().toString()));
            annId = add(annotations, annId, imageId, data.annotation(i), false, cats);
            annId = add(annotations, annId, imageId, data.crowd(i), true, cats);
        }
        return new CocoGroundTruth(images, annotations, categories);
    }

    /** Adds {@code boxes} as annotations numbered from {@code lastId + 1}; returns the last id used. */
    private static long add(List<CocoGroundTruth.Annotation> out, long lastId, long imageId,
                            DetectionDataset.Boxes boxes, boolean crowd, CocoCategories cats) {
        for (int r = 0; r < boxes.size(); r++) {
            double[] box = CocoBox.xywh(boxes.bbox(), r);
            out.add(new CocoGroundTruth.Annotation(++lastId, imageId, cats.id(boxes.label()[r]), box, boxes.area(r),
                    crowd));
        }
        return lastId;
    }
}
