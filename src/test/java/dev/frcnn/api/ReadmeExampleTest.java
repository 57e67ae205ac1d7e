package dev.frcnn.api;

import dev.frcnn.io.ReferenceCheckpointFiles;
import dev.frcnn.model.Detection;
import dev.frcnn.model.FasterRCNNVGG16;
import dev.frcnn.testing.ChildJvm;
import dev.frcnn.testing.FormulaWeights;
import dev.frcnn.testing.Golden;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * The README's "Use it from Java" example cannot rot: its {@code Example.java} (the one ```java block declaring
 * {@code class Example}) is extracted, compiled against the built classes and run in a fresh JVM, as a user would,
 * on the reference's trained-checkpoint format ({@code torch.save({'model': state_dict})} of the formula-weight
 * VGG16 of model_forward.json). Its output must be exactly the facade's detections with the default options,
 * formatted as README says; and the facade at the fixture's min/max size gives the reference's detections.
 */
class ReadmeExampleTest {
    @TempDir
    static Path dir;
    static Path pth;
    static Golden g;

    @BeforeAll
    static void writeReferenceCheckpoint() throws IOException {
        g = Golden.load("model_forward.json");
        FasterRCNNVGG16 model = new FasterRCNNVGG16();
        FormulaWeights.fill(model, g);
        pth = ReferenceCheckpointFiles.write(dir.resolve("fasterrcnn_reference.pth"), model);
        model.close();
    }

    /** The source of the README's Example.java. */
    static String exampleSource() throws IOException {
        Path readme = Path.of(System.getProperty("user.dir")).resolve("README.md");
        Matcher m = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(Files.readString(readme));
        List<String> found = new ArrayList<>();
        while (m.find()) if (m.group(1).contains("public class Example")) found.add(m.group(1));
        assertThat(found).as("README.md has exactly one ```java block with public class Example").hasSize(1);
        return found.get(0);
    }

    @Test
    void readmeExampleCompilesRunsAndPrintsTheFacadesDetections() throws Exception {
        Path src = dir.resolve("example/Example.java");
        Files.createDirectories(src.getParent());
        Files.writeString(src, exampleSource());
        String cp = System.getProperty("java.class.path");
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        ByteArrayOutputStream diag = new ByteArrayOutputStream();
        int rc = javac.run(null, diag, diag, "-d", src.getParent().toString(), "-cp", cp, src.toString());
        assertThat(rc).as("javac Example.java: %s", diag.toString(StandardCharsets.UTF_8)).isZero();

        Path image = Golden.file("demo.jpg");
        // README's command line: java --enable-native-access=ALL-UNNAMED -cp ... Example model image
        List<String> cmd = ChildJvm.command(List.of("--enable-native-access=ALL-UNNAMED", "-Xmx1g"),
                src.getParent() + File.pathSeparator + cp, "Example", List.of(pth.toString(), image.toString()));
        Process p = new ProcessBuilder(cmd).redirectError(dir.resolve("example.err").toFile()).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(10, TimeUnit.MINUTES)).isTrue();
        assertThat(p.exitValue()).as("java Example: %s", Files.readString(dir.resolve("example.err"))).isZero();

        List<String> expected = new ArrayList<>();
        try (Detector d = Detector.load(pth)) {
            for (Detection x : d.detect(image)) {
                expected.add(String.format(Locale.ROOT, "%s %.2f %.1f %.1f %.1f %.1f",
                        x.label(), x.score(), x.xmin(), x.ymin(), x.xmax(), x.ymax()));
            }
        }
        assertThat(expected).as("the default (visualize) preset keeps some detections of this model").isNotEmpty();
        assertThat(out.lines().toList()).isEqualTo(expected);
    }

    @Test
    void theFacadeGivesTheReferenceDetectionsAtTheFixtureSize() throws IOException {
        for (String preset : List.of("visualize", "evaluate")) {
            DetectorOptions o = DetectorOptions.builder().preset(preset).minSize(g.params().get("min_size").asInt())
                    .maxSize(g.params().get("max_size").asInt()).build();
            List<Detection> got;
            try (Detector d = Detector.load(pth, o)) {
                got = d.detect(Golden.file(g.params().get("image_file").asText()));
            }
            float[] box = g.floats("predict_" + preset + "_bboxes");
            long[] label = g.longs("predict_" + preset + "_labels");
            float[] score = g.floats("predict_" + preset + "_scores");
            assertThat(got).as(preset + " detection count").hasSize(label.length);
            boolean[] used = new boolean[got.size()];
            for (int i = 0; i < label.length; i++) {
                int match = -1;
                for (int j = 0; j < got.size() && match < 0; j++) {
                    Detection x = got.get(j);
                    if (used[j] || x.classIndex() != label[i]) continue;
                    float[] b = {x.ymin(), x.xmin(), x.ymax(), x.xmax()};
                    boolean close = Math.abs(x.score() - score[i]) <= 1e-5;
                    for (int k = 0; k < 4; k++) close &= Math.abs(b[k] - box[4 * i + k]) <= 2e-3;
                    if (close) match = j;
                }
                if (match < 0) fail(preset + ": no detection matches reference #" + i);
                used[match] = true;
            }
        }
    }
}
