package dev.frcnn.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.bytedeco.pytorch.Tensor;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.concurrent.ConcurrentHashMap;


/**
 * Reads the reference's golden fixtures (see {@code ../shared/golden/README.md}) from the directory in
 * the system property {@code frcnn.golden.dir} (default {@code ../shared/golden}). A missing directory
 * or file is an error (the test fails), never a skip.
 *
 * <p>Each fixture is one JSON object with {@code params} and {@code tensors}: {@code name -> {shape,
 * dtype, data}}, data flat in row-major order; NaN is written {@code null}.
 */
public final class Golden {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ConcurrentHashMap<String, Golden> CACHE = new ConcurrentHashMap<>();

    private final String file;
    private final JsonNode root;

    private Golden(String file, JsonNode root) {
        this.file = file;
        this.root = root;
    }

    /** The fixture directory; fails if it does not exist. */
    public static Path dir() {
        Path dir = Path.of(System.getProperty("frcnn.golden.dir", "../shared/golden"));
        if (!Files.isDirectory(dir)) {
            throw new IllegalStateException("golden fixture directory not found: " + dir.toAbsolutePath()
                    + " (set -Dfrcnn.golden.dir=DIR)");
        }
        return dir;
    }

    /** A file of the fixture directory (e.g. {@code demo.jpg}); fails if it does not exist. */
    public static Path file(String name) {
        Path p = dir().resolve(name);
        if (!Files.isRegularFile(p)) {
            throw new IllegalStateException("golden fixture file not found: " + p.toAbsolutePath());
        }
        return p;
    }

    /** Loads (and caches per JVM) one fixture, e.g. {@code load("nms.json")}. */
    public static Golden load(String name) {
        Path p = file(name);
        return CACHE.computeIfAbsent(p.toAbsolutePath().toString(), k -> {
            try {
                return new Golden(name, JSON.readTree(p.toFile()));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read golden fixture " + p, e);
            }
        });
    }

    public String name() { return file; }

    public JsonNode root() { return root; }

    public JsonNode params() { return root.path("params"); }

    public boolean has(String tensor) { return root.path("tensors").has(tensor); }

    /** Tensor names in file order. */
    public Iterator<String> tensorNames() { return root.path("tensors").fieldNames(); }

    private JsonNode node(String tensor) {
        JsonNode n = root.path("tensors").get(tensor);
        if (n == null) throw new IllegalStateException(file + ": no tensor '" + tensor + "'");
        return n;
    }

    public long[] shape(String tensor) {
        JsonNode s = node(tensor).get("shape");
        long[] out = new long[s.size()];
        for (int i = 0; i < out.length; i++) out[i] = s.get(i).asLong();
        return out;
    }

    public String dtype(String tensor) { return node(tensor).get("dtype").asText(); }

    /** Data as float (float32/float64/int64/bool all converted; null = NaN). */
    public float[] floats(String tensor) {
        JsonNode d = node(tensor).get("data");
        float[] out = new float[d.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = d.get(i);
            out[i] = v.isNull() ? Float.NaN : v.isBoolean() ? (v.asBoolean() ? 1f : 0f) : (float) v.asDouble();
        }
        return out;
    }

    /** Data as double (null = NaN). For float32 data this is the float value widened exactly. */
    public double[] doubles(String tensor) {
        JsonNode d = node(tensor).get("data");
        boolean f32 = dtype(tensor).equals("float32");
        double[] out = new double[d.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = d.get(i);
            out[i] = v.isNull() ? Double.NaN : v.isBoolean() ? (v.asBoolean() ? 1 : 0)
                    : f32 ? (double) (float) v.asDouble() : v.asDouble();
        }
        return out;
    }

    public long[] longs(String tensor) {
        JsonNode d = node(tensor).get("data");
        long[] out = new long[d.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = d.get(i);
            out[i] = v.isBoolean() ? (v.asBoolean() ? 1 : 0) : v.asLong();
        }
        return out;
    }

    /** A scalar tensor's single value (or a params number) as double. */
    public double scalar(String tensor) {
        return doubles(tensor)[0];
    }

    /**
     * The tensor as a LibTorch CPU tensor with the fixture's shape: float32 as Float, float64 as Double,
     * int64 as Long, bool as Bool. The caller owns it (use inside a PointerScope).
     */
    public Tensor tensor(String tensor) {
        long[] shape = shape(tensor);
        String dt = dtype(tensor);
        return switch (dt) {
            case "float32" -> Tensors.fromFloats(floats(tensor), shape);
            case "float64" -> Tensors.fromDoubles(doubles(tensor), shape);
            case "int64" -> Tensors.fromLongs(longs(tensor), shape);
            case "bool" -> Tensors.fromLongs(longs(tensor), shape).to(ScalarType.Bool);
            default -> throw new IllegalStateException(file + ": unknown dtype " + dt + " of " + tensor);
        };
    }

    @Override
    public String toString() { return "Golden[" + file + "]"; }
}
