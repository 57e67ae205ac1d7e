package dev.frcnn.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imread;

class SyntheticVocTest {
    @TempDir
    Path dir;

    @Test
    void sameSeedGivesIdenticalFilesAndOtherSeedDiffers() throws IOException {
        Path a = new SyntheticVoc(7, 96, 160).write(dir.resolve("a"), 6, 3);
        Path b = new SyntheticVoc(7, 96, 160).write(dir.resolve("b"), 6, 3);
        Path c = new SyntheticVoc(8, 96, 160).write(dir.resolve("c"), 6, 3);
        for (String id : Files.readAllLines(a.resolve("ImageSets/Main/test.txt"))) {
            assertThat(Files.readAllBytes(a.resolve("JPEGImages/" + id + ".jpg")))
                    .isEqualTo(Files.readAllBytes(b.resolve("JPEGImages/" + id + ".jpg")));
            assertThat(Files.readString(a.resolve("Annotations/" + id + ".xml")))
                    .isEqualTo(Files.readString(b.resolve("Annotations/" + id + ".xml")));
        }
        assertThat(Files.readAllBytes(a.resolve("JPEGImages/000001.jpg")))
                .isNotEqualTo(Files.readAllBytes(c.resolve("JPEGImages/000001.jpg")));
    }

    @Test
    void writesTheVocLayoutWithBoxesInsideTheImageAndDifficultSmallObjects() throws IOException {
        Path root = new SyntheticVoc(1, 128, 192).write(dir.resolve("voc"), 30, 10);
        List<String> train = Files.readAllLines(root.resolve("ImageSets/Main/train.txt"));
        List<String> test = Files.readAllLines(root.resolve("ImageSets/Main/test.txt"));
        assertThat(train).hasSize(30);
        assertThat(test).hasSize(10).doesNotContainAnyElementsOf(train);
        Pattern obj = Pattern.compile("<name>(\\w+)</name>.*?<difficult>(\\d)</difficult>\\s*<bndbox><xmin>(\\d+)</xmin>"
                + "<ymin>(\\d+)</ymin><xmax>(\\d+)</xmax><ymax>(\\d+)</ymax>", Pattern.DOTALL);
        Pattern size = Pattern.compile("<width>(\\d+)</width><height>(\\d+)</height>");
        int objects = 0, difficult = 0;
        for (String id : train) {
            String xml = Files.readString(root.resolve("Annotations/" + id + ".xml"));
            Matcher sm = size.matcher(xml);
            assertThat(sm.find()).isTrue();
            int w = Integer.parseInt(sm.group(1)), h = Integer.parseInt(sm.group(2));
            var img = imread(root.resolve("JPEGImages/" + id + ".jpg").toString());
            assertThat(img.cols()).isEqualTo(w);
            assertThat(img.rows()).isEqualTo(h);
            Matcher m = obj.matcher(xml);
            while (m.find()) {
                objects++;
                assertThat(SyntheticVoc.CLASS_NAMES).contains(m.group(1));
                int x0 = Integer.parseInt(m.group(3)), y0 = Integer.parseInt(m.group(4));
                int x1 = Integer.parseInt(m.group(5)), y1 = Integer.parseInt(m.group(6));
                assertThat(x0).isBetween(1, x1);
                assertThat(y0).isBetween(1, y1);
                assertThat(x1).isLessThanOrEqualTo(w);
                assertThat(y1).isLessThanOrEqualTo(h);
                boolean small = Math.max(x1 - x0 + 1, y1 - y0 + 1) < SyntheticVoc.DIFFICULT_SIZE;
                assertThat(m.group(2)).isEqualTo(small ? "1" : "0");
                if (small) difficult++;
            }
        }
        assertThat(objects).isGreaterThanOrEqualTo(30);
        assertThat(difficult).isGreaterThan(0);
    }
}
