package dev.frcnn.cli;

import dev.frcnn.data.CocoDataset;
import dev.frcnn.data.DatasetConverter;
import dev.frcnn.data.ExifOrientationMode;
import dev.frcnn.data.ImageReader;
import dev.frcnn.data.VocDataset;
import dev.frcnn.error.UserInputException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code frcnn convert}: a dataset from the VOC layout to COCO JSON or back ({@link DatasetConverter}, which
 * documents the box convention and what each format cannot hold). Prints one line: what was written, and one line
 * per note (e.g. crowd regions made difficult objects).
 */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = "Convert a detection dataset between the VOC layout and COCO JSON (boxes kept exactly).")
final class ConvertCommand implements Callable<Integer> {
    /** The dataset formats. */
    enum Format { voc, coco }

    @Option(names = "--from", required = true, description = "input format: ${COMPLETION-CANDIDATES}")
    Format from;

    @Option(names = "--to", required = true, description = "output format: ${COMPLETION-CANDIDATES}")
    Format to;

    @Option(names = "--data", description = "input dataset directory: VOC2007 layout, or COCO 2017 layout "
            + "(annotations/instances_<split>.json and <split>/)")
    Path data;

    @Option(names = "--annotations", description = "COCO input: the instances JSON (with --images, instead of --data)")
    Path annotations;

    @Option(names = "--images", description = "COCO input: the image folder of --annotations")
    Path images;

    @Option(names = "--split", required = true, description = "split to convert (VOC split file name, COCO <split>); "
            + "also the output split's name")
    String split;

    @Option(names = "--classes", split = ",", description = "VOC input: class names, comma-separated, in label "
            + "order (default: the 20 VOC classes)")
    List<String> classes;

    @Option(names = "--out", required = true, description = "output directory (created)")
    Path out;

    @Option(names = "--copy-images", description = "copy the images (default: link the output's image folder to "
            + "the input's)")
    boolean copyImages;

    @Override
    public Integer call() throws Exception {
        if (from == to) throw new UserInputException("--from and --to are both " + from + "; nothing to convert");
        DatasetConverter.Report r;
        if (from == Format.voc) {
            if (data == null) throw new UserInputException("--from voc needs --data DIR (a VOC2007-layout directory)");
            if (annotations != null || images != null) {
                throw new UserInputException("--annotations and --images are for --from coco");
            }
            VocDataset voc = new VocDataset(data, split, true, classes == null || classes.isEmpty()
                    ? VocDataset.VOC_BBOX_LABEL_NAMES : classes);
            r = DatasetConverter.vocToCoco(voc, out, copyImages);
            System.out.println("wrote " + r.images() + " images and " + r.boxes() + " boxes to "
                    + CocoDataset.layoutAnnotationFile(out, split));
        } else {
            if (classes != null) throw new UserInputException("--classes is for --from voc (COCO names its categories)");
            CocoDataset coco;
            if (annotations != null || images != null) {
                if (annotations == null || images == null || data != null) {
                    throw new UserInputException("--from coco takes either --data DIR or both --annotations FILE "
                            + "and --images DIR");
                }
                coco = new CocoDataset(annotations, images, CocoDataset.Mode.EVALUATE, true,
                        ImageReader.DEFAULT_MAX_PIXELS, ExifOrientationMode.APPLY);
            } else if (data != null) {
                coco = CocoDataset.fromLayout(data, split, CocoDataset.Mode.EVALUATE, true,
                        ImageReader.DEFAULT_MAX_PIXELS, ExifOrientationMode.APPLY);
            } else {
                throw new UserInputException("--from coco needs --data DIR or --annotations FILE --images DIR");
            }
            for (String w : coco.warnings()) System.err.println("frcnn: warning: " + w);
            r = DatasetConverter.cocoToVoc(coco, out, split, copyImages);
            System.out.println("wrote " + r.images() + " images and " + r.boxes() + " boxes to " + out
                    + " (split file ImageSets/Main/" + split + ".txt)");
        }
        for (String m : r.messages()) System.out.println(m);
        return 0;
    }
}
