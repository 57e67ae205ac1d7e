package dev.frcnn.chart;

import dev.frcnn.io.AtomicFiles;
import dev.frcnn.io.WriteFailures;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.VectorGraphicsEncoder;
import org.knowm.xchart.XYChart;

import java.awt.AWTError;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes a chart as a PNG and its SVG twin (same name, {@code .svg}). Both are drawn in memory first, then each is
 * written to a temporary file beside its target ({@code <target name><digits>.tmp}, the naming that
 * {@code Checkpoints.isTemporaryOf} recognises, so training's start removes one that a killed save left) and renamed
 * over it: a reader never sees half a chart. Not fsynced: a chart is redrawn at the next epoch.
 *
 * <p>Drawing needs Java2D, not a display: {@code bin/frcnn} and the tests run with {@code java.awt.headless=true};
 * an embedding application that has a {@code DISPLAY} set but unreachable should set it too. The SVG's text is drawn
 * as glyph outlines (XChart's way), so it looks the same without the fonts installed.
 */
public final class ChartFiles {

    private ChartFiles() {}

    /**
     * @param png a file name ending in {@code .png}
     * @return the SVG beside it: the same name with {@code .svg} instead of {@code .png}
     * @throws IllegalArgumentException if the name does not end in {@code .png}
     */
    public static Path svgTwin(Path png) {
        String n = png.getFileName().toString();
        if (!n.endsWith(".png")) throw new IllegalArgumentException(png + ": a chart's file name must end in .png");
        return png.resolveSibling(n.substring(0, n.length() - 4) + ".svg");
    }

    /**
     * Draws {@code chart} and writes it to {@code png} and {@link #svgTwin(Path) its SVG twin}, replacing older
     * versions; the PNG is {@code chart}'s width x height pixels, 8-bit RGB; the SVG has the same size in px.
     *
     * @param png the PNG to write (its directory must exist)
     * @return the files written: the PNG, then the SVG
     * @throws IOException naming the file: "{@code FILE: cannot draw the chart: REASON}" if Java2D cannot draw (no
     *     display where one is required, no fonts), "{@code FILE: cannot write: REASON}" if a file cannot be written
     *     (a missing directory, a full disk); a failed write leaves the file it replaces as it was
     */
    public static List<Path> write(XYChart chart, Path png) throws IOException {
        Path svg = svgTwin(png);
        byte[] pngBytes = draw(png, () -> {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            BitmapEncoder.saveBitmap(chart, b, BitmapEncoder.BitmapFormat.PNG);
            return b.toByteArray();
        });
        byte[] svgBytes = draw(svg, () -> {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            VectorGraphicsEncoder.saveVectorGraphic(chart, b, VectorGraphicsEncoder.VectorGraphicsFormat.SVG);
            return b.toByteArray();
        });
        replace(png, pngBytes);
        replace(svg, svgBytes);
        return List.of(png, svg);
    }

    /** Draws into memory, where a failure is Java2D's, not the disk's. */
    private interface Drawing {
        byte[] draw() throws IOException;
    }

    private static byte[] draw(Path file, Drawing d) throws IOException {
        try {
            return d.draw();
        } catch (IOException | RuntimeException | AWTError e) {
            String m = e.getMessage();
            throw new IOException(file + ": cannot draw the chart: " + (m == null || m.isBlank()
                    ? e.getClass().getSimpleName() : m.replace('\n', ' ')), e);
        }
    }

    /** Writes {@code bytes} to a temporary file beside {@code target} and renames it over {@code target}. */
    static void replace(Path target, byte[] bytes) throws IOException {
        Path tmp = null;
        try {
            tmp = createTemporary(target);
            try (OutputStream out = Files.newOutputStream(tmp, StandardOpenOption.WRITE)) {
                out.write(bytes);
            }
            AtomicFiles.moveOver(tmp, target);
            tmp = null;
        } catch (IOException e) {
            throw named(target, e);
        } finally {
            if (tmp != null) Files.deleteIfExists(tmp);
        }
    }

    /**
     * Creates the empty temporary file for {@code target}: {@code <target name><unsigned decimal long>.tmp} in its
     * directory, with the default permissions (a chart is as readable as the other outputs, unlike
     * {@link Files#createTempFile}'s owner-only files).
     */
    static Path createTemporary(Path target) throws IOException {
        for (int attempt = 0; ; attempt++) {
            Path tmp = target.resolveSibling(target.getFileName() + Long.toUnsignedString(ThreadLocalRandom.current()
                    .nextLong()) + AtomicFiles.TEMPORARY_SUFFIX);
            try {
                return Files.createFile(tmp);
            } catch (FileAlreadyExistsException e) {
                if (attempt >= 10) throw e;
            }
        }
    }

    /**
     * The failure as "{@code TARGET: cannot write: REASON}": a failure on the temporary file names the temporary
     * file, which the user never asked for.
     */
    private static IOException named(Path target, IOException e) {
        if (e instanceof FileSystemException fse) {
            String reason = fse.getReason() != null ? fse.getReason()
                    : e instanceof AccessDeniedException ? "permission denied"
                    : e instanceof NoSuchFileException ? "no such directory"
                    : e instanceof NotDirectoryException ? "not a directory"
                    : e.getClass().getSimpleName();
            return new IOException(target + ": cannot write: " + reason, e);
        }
        return WriteFailures.naming(target, e);
    }
}
