package dev.frcnn.data;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Converts detection datasets between the PASCAL VOC layout ({@link VocDataset}) and COCO JSON ({@link CocoDataset}),
 * keeping every box exact.
 *
 * <p>The box convention: both readers give {@code (ymin, xmin, ymax, xmax)} in the same pixel frame. VOC's
 * {@code <bndbox>} values are read minus 1 (the reference's VOC reader); COCO's {@code [x, y, w, h]} is read as
 * {@code (y, x, y + h, x + w)}. So VOC {@code xmin, ymin, xmax, ymax} is written to COCO as
 * {@code [xmin - 1, ymin - 1, xmax - xmin, ymax - ymin]} and back as {@code xmin = x + 1, xmax = x + w + 1}: a VOC
 * set converted to COCO reads back into exactly the boxes it had (integer pixels stay integers, and the arithmetic is
 * exact in double precision for any float coordinate), so training on either gives the same targets. The
 * {@code area} written is {@code w * h} of that box.
 *
 * <p>VOC to COCO: image ids are 1..N in split-file order (an id listed twice is written once), {@code file_name} is
 * {@code <id>.jpg}, {@code width} and {@code height} are the image header's (in the frame the image is decoded in);
 * category ids are 1..K in the class-name order; annotation ids 1..M; {@code iscrowd} is 0. VOC's difficult objects
 * are written as ordinary annotations with the non-standard field {@code "difficult": 1}, which {@link CocoDataset}
 * honours (dropped for training, ignored by the evaluation) and other COCO tools ignore (they count the objects as
 * ordinary ones). The boxes are the ones {@link VocDataset#annotation} gives, i.e. already clipped to the image.
 *
 * <p>COCO to VOC: each image becomes {@code Annotations/<stem>.xml} with {@code <size>} from the JSON, the split file
 * {@code ImageSets/Main/<split>.txt} lists the stems in file order. Crowd regions, which VOC cannot express, are
 * written as {@code <difficult>1</difficult>} objects (also ignored by the VOC evaluation, dropped in training). A box
 * reaching the right or bottom image edge in COCO's continuous frame ({@code x + w == width}) lies one pixel beyond
 * VOC's last pixel index; it is written clamped to {@code [1, width]} x {@code [1, height]}, and {@link Report}
 * counts such boxes.
 *
 * <p>Images: without {@code copyImages} the output refers to the input's images with a symbolic link (COCO
 * {@code <split>/} or VOC {@code JPEGImages/} pointing at the input folder), so nothing is copied; with it, the files
 * are copied.
 */
public final class DatasetConverter {
    private static final JsonFactory JSON = new JsonFactory();

    private DatasetConverter() {}

    /**
     * What a conversion wrote.
     *
     * @param images images written
     * @param boxes boxes (annotations or objects) written
     * @param messages notes for the user, one line each (e.g. how many boxes were clamped); empty if none
     */
    public record Report(int images, int boxes, List<String> messages) {}

    /**
     * Writes {@code voc} as COCO 2017's layout: {@code outDir/annotations/instances_<split>.json} and the images in
     * {@code outDir/<split>/}.
     *
     * @param voc the VOC split; read with {@code useDifficult = true} so that difficult objects are written (flagged)
     * @param outDir output folder (created; an existing annotation file or image folder of the split is refused)
     * @param copyImages copy the images instead of linking the folder
     * @return what was written
     * @throws DataException naming the file for an annotation {@link VocDataset#annotation} refuses, an image whose
     *     header cannot be read, or an output that already exists
     * @throws IOException if writing fails
     */
    public static Report vocToCoco(VocDataset voc, Path outDir, boolean copyImages) throws IOException {
        Path json = CocoDataset.layoutAnnotationFile(outDir, voc.split());
        Path images = outDir.resolve(voc.split());
        refuseExisting(json);
        refuseExisting(images);
        List<String> labels = voc.labelNames();
        Set<String> seen = new HashSet<>();
        int nImages = 0, nBoxes = 0;
        Files.createDirectories(json.getParent());
        List<Path> imageFiles = new ArrayList<>();
        try (OutputStream out = Files.newOutputStream(json);
             JsonGenerator g = JSON.createGenerator(out, JsonEncoding.UTF8)) {
            g.writeStartObject();
            g.writeArrayFieldStart("images");
            List<Integer> kept = new ArrayList<>();
            for (int i = 0; i < voc.size(); i++) {
                String id = voc.ids().get(i);
                if (!seen.add(id)) continue;
                kept.add(i);
                ImageHeader h = header(voc.imagePath(i), voc.exifOrientation());
                g.writeStartObject();
                g.writeNumberField("id", kept.size());
                g.writeStringField("file_name", id + ".jpg");
                g.writeNumberField("width", h.width());
                g.writeNumberField("height", h.height());
                g.writeEndObject();
                imageFiles.add(voc.imagePath(i));
            }
            g.writeEndArray();
            g.writeArrayFieldStart("categories");
            for (int c = 0; c < labels.size(); c++) {
                g.writeStartObject();
                g.writeNumberField("id", c + 1);
                g.writeStringField("name", labels.get(c));
                g.writeStringField("supercategory", "none");
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeArrayFieldStart("annotations");
            for (int k = 0; k < kept.size(); k++) {
                VocDataset.Annotation a = voc.annotation(kept.get(k));
                for (int r = 0; r < a.size(); r++) {
                    double[] box = CocoBox.xywh(a.bbox(), r);
                    double w = box[2], h = box[3];
                    g.writeStartObject();
                    g.writeNumberField("id", ++nBoxes);
                    g.writeNumberField("image_id", k + 1);
                    g.writeNumberField("category_id", a.label()[r] + 1);
                    g.writeArrayFieldStart("bbox");
                    number(g, box[0]);
                    number(g, box[1]);
                    number(g, w);
                    number(g, h);
                    g.writeEndArray();
                    g.writeFieldName("area");
                    number(g, w * h);
                    g.writeNumberField("iscrowd", 0);
                    if (a.difficult()[r]) g.writeNumberField("difficult", 1);
                    g.writeEndObject();
                }
            }
            nImages = kept.size();
            g.writeEndArray();
            g.writeEndObject();
        }
        if (copyImages) {
            Files.createDirectories(images);
            for (Path f : imageFiles) Files.copy(f, images.resolve(f.getFileName()), StandardCopyOption.COPY_ATTRIBUTES);
        } else {
            Files.createSymbolicLink(images, voc.dataDir().resolve("JPEGImages").toAbsolutePath());
        }
        return new Report(nImages, nBoxes, List.of());
    }

    /**
     * Writes {@code coco} as a VOC layout under {@code outDir}: {@code Annotations/<stem>.xml}, {@code JPEGImages/}
     * and {@code ImageSets/Main/<split>.txt}.
     *
     * @param coco the COCO set; read in {@link CocoDataset.Mode#EVALUATE} so that every image and difficult object is
     *     written
     * @param outDir output folder (created; an existing split file is refused; annotation files of other splits may
     *     be there already)
     * @param split the split file's name
     * @param copyImages copy the images instead of linking {@code JPEGImages} to the image folder
     * @return what was written
     * @throws DataException naming the COCO file and the image id for an image that is not a {@code .jpg} (VOC's
     *     layout names its images {@code <id>.jpg}), two images with the same file stem, or a {@code file_name} in a
     *     subfolder when not copying; or for an output that already exists
     * @throws IOException if writing fails
     */
    public static Report cocoToVoc(CocoDataset coco, Path outDir, String split, boolean copyImages) throws IOException {
        Path splitFile = outDir.resolve("ImageSets").resolve("Main").resolve(split + ".txt");
        Path jpegs = outDir.resolve("JPEGImages");
        refuseExisting(splitFile);
        if (!copyImages) refuseExisting(jpegs);
        List<String> stems = new ArrayList<>();
        Map<String, Long> byStem = new HashMap<>();
        Path imageRoot = coco.imageDir().toAbsolutePath().normalize();
        for (int i = 0; i < coco.size(); i++) {
            Path img = coco.imagePath(i).toAbsolutePath().normalize();
            String name = img.getFileName().toString();
            String where = "image id " + coco.imageId(i) + " ('" + name + "')";
            if (!name.toLowerCase(Locale.ROOT).endsWith(".jpg") || !name.endsWith(".jpg")) {
                throw new DataException(coco.annotationFile(), where + ": the VOC layout holds .jpg images only");
            }
            if (!copyImages && !img.getParent().equals(imageRoot)) {
                throw new DataException(coco.annotationFile(), where + ": is in a subfolder of the image folder; "
                        + "convert with --copy-images");
            }
            String stem = name.substring(0, name.length() - 4);
            Long other = byStem.putIfAbsent(stem, coco.imageId(i));
            if (other != null) {
                throw new DataException(coco.annotationFile(), where + ": image id " + other
                        + " has the same file name; VOC ids must be distinct");
            }
            stems.add(stem);
        }
        Path annDir = outDir.resolve("Annotations");
        Files.createDirectories(annDir);
        Files.createDirectories(splitFile.getParent());
        int boxes = 0, clamped = 0, crowd = 0;
        String firstClamp = null;
        List<String> labels = coco.labelNames();
        for (int i = 0; i < coco.size(); i++) {
            int[] size = coco.declaredSize(i);
            StringBuilder x = new StringBuilder();
            x.append("<annotation>\n\t<folder>JPEGImages</folder>\n\t<filename>").append(escape(stems.get(i)))
                    .append(".jpg</filename>\n\t<source>\n\t\t<database>COCO image id ").append(coco.imageId(i))
                    .append("</database>\n\t</source>\n\t<size>\n\t\t<width>").append(size[0])
                    .append("</width>\n\t\t<height>").append(size[1])
                    .append("</height>\n\t\t<depth>3</depth>\n\t</size>\n\t<segmented>0</segmented>\n");
            for (CocoDataset.CocoBoxes b : List.of(coco.annotation(i), coco.crowd(i))) {
                boolean isCrowd = b == coco.crowd(i);
                for (int r = 0; r < b.size(); r++) {
                    double ymin = b.bbox()[4 * r] + 1.0, xmin = b.bbox()[4 * r + 1] + 1.0;
                    double ymax = b.bbox()[4 * r + 2] + 1.0, xmax = b.bbox()[4 * r + 3] + 1.0;
                    if (ymax > size[1] || xmax > size[0]) {
                        clamped++;
                        if (firstClamp == null) {
                            firstClamp = "image id " + coco.imageId(i) + ", annotation id " + b.annotationIds()[r];
                        }
                        ymax = Math.min(ymax, size[1]);
                        xmax = Math.min(xmax, size[0]);
                    }
                    if (!(ymax > ymin) || !(xmax > xmin)) {
                        throw new DataException(coco.annotationFile(), "image id " + coco.imageId(i)
                                + ", annotation id " + b.annotationIds()[r] + ": the box is less than one pixel "
                                + "inside the image's last row or column, which VOC cannot express");
                    }
                    if (isCrowd) crowd++;
                    x.append("\t<object>\n\t\t<name>").append(escape(labels.get(b.label()[r])))
                            .append("</name>\n\t\t<pose>Unspecified</pose>\n\t\t<truncated>0</truncated>\n\t\t<difficult>")
                            .append(isCrowd || b.difficult()[r] ? 1 : 0).append("</difficult>\n\t\t<bndbox>\n\t\t\t<xmin>")
                            .append(fmt(xmin)).append("</xmin>\n\t\t\t<ymin>").append(fmt(ymin))
                            .append("</ymin>\n\t\t\t<xmax>").append(fmt(xmax)).append("</xmax>\n\t\t\t<ymax>")
                            .append(fmt(ymax)).append("</ymax>\n\t\t</bndbox>\n\t</object>\n");
                    boxes++;
                }
            }
            x.append("</annotation>\n");
            Files.writeString(annDir.resolve(stems.get(i) + ".xml"), x, StandardCharsets.UTF_8);
        }
        Files.write(splitFile, stems, StandardCharsets.UTF_8);
        if (copyImages) {
            Files.createDirectories(jpegs);
            for (int i = 0; i < coco.size(); i++) {
                Files.copy(coco.imagePath(i), jpegs.resolve(stems.get(i) + ".jpg"), StandardCopyOption.REPLACE_EXISTING);
            }
        } else {
            Files.createSymbolicLink(jpegs, imageRoot);
        }
        List<String> messages = new ArrayList<>();
        if (crowd > 0) {
            messages.add(crowd + " crowd region" + (crowd == 1 ? " was" : "s were")
                    + " written as difficult objects (VOC has no crowd regions)");
        }
        if (clamped > 0) {
            messages.add(clamped + " box" + (clamped == 1 ? "" : "es") + " reaching the image's right or bottom edge "
                    + (clamped == 1 ? "was" : "were") + " clamped to VOC's last pixel (first: " + firstClamp + ")");
        }
        return new Report(coco.size(), boxes, List.copyOf(messages));
    }

    private static ImageHeader header(Path image, ExifOrientationMode exif) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(image);
        } catch (IOException e) {
            throw DataException.readFailure(image, "image file", e);
        }
        try {
            return ImageHeader.parse(bytes).oriented(exif.orientationOf(bytes));
        } catch (ImageHeader.MalformedHeaderException e) {
            throw new DataException(image, "cannot read the image's size: " + e.getMessage(), e);
        }
    }

    private static void refuseExisting(Path p) {
        if (Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            throw new DataException(p, "already exists; the converter does not overwrite");
        }
    }

    private static void number(JsonGenerator g, double v) throws IOException {
        if (v == Math.rint(v) && Math.abs(v) < 1e15) g.writeNumber((long) v);
        else g.writeNumber(v);
    }

    private static String fmt(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
    }

    private static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
