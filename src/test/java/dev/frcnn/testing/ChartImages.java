package dev.frcnn.testing;

import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

import javax.imageio.ImageIO;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilderFactory;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** Reads the charts the library writes: the PNG's pixels, the SVG's elements. */
public final class ChartImages {
    private ChartImages() {}

    /** @return the decoded PNG; fails the test if it does not decode */
    public static BufferedImage png(Path file) throws IOException {
        BufferedImage img = ImageIO.read(file.toFile());
        assertThat(img).as(file + " decodes as an image").isNotNull();
        return img;
    }

    /**
     * @return how many pixels of rows {@code [yFrom, yTo)} are within 30 of {@code c} in each of R, G and B
     *     (antialiased lines blend at their edges)
     */
    public static long pixelsNear(BufferedImage img, Color c, int yFrom, int yTo) {
        long n = 0;
        for (int y = yFrom; y < Math.min(yTo, img.getHeight()); y++) {
            for (int x = 0; x < img.getWidth(); x++) {
                Color p = new Color(img.getRGB(x, y));
                if (Math.abs(p.getRed() - c.getRed()) <= 30 && Math.abs(p.getGreen() - c.getGreen()) <= 30
                        && Math.abs(p.getBlue() - c.getBlue()) <= 30) {
                    n++;
                }
            }
        }
        return n;
    }

    /**
     * Parses an SVG as XML without fetching its DTD (the file names the W3C's).
     *
     * @return the document; fails the test if it is not well-formed or its root is not {@code svg}
     */
    public static Document svg(Path file) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        f.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false);
        f.setAttribute(XMLConstants.ACCESS_EXTERNAL_DTD, "");
        Document d;
        try (InputStream in = Files.newInputStream(file)) {
            d = f.newDocumentBuilder().parse(in);
        }
        assertThat(d.getDocumentElement().getLocalName()).as(file + "'s root").isEqualTo("svg");
        return d;
    }

    /**
     * @return how many shapes ({@code line}, {@code path}, {@code ellipse}, ... elements) of {@code d} are stroked
     *     (lines) or filled (dots) in colour {@code c}
     */
    public static int shapesIn(Document d, Color c) {
        String rgb = "rgb(" + c.getRed() + "," + c.getGreen() + "," + c.getBlue() + ")";
        NodeList paths = d.getElementsByTagNameNS("*", "*");
        int n = 0;
        for (int i = 0; i < paths.getLength(); i++) {
            String style = ((Element) paths.item(i)).getAttribute("style");
            if (style.contains("stroke:" + rgb) || style.contains("fill:" + rgb)) n++;
        }
        return n;
    }
}
