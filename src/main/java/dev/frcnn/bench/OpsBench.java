package dev.frcnn.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.frcnn.error.UserInputException;
import dev.frcnn.model.roi.RoIOperator;
import dev.frcnn.ops.Nms;
import dev.frcnn.ops.RoIAlign;
import dev.frcnn.ops.RoIPool;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;

import static org.bytedeco.pytorch.global.torch.get_num_threads;
import static org.bytedeco.pytorch.global.torch.manual_seed;
import static org.bytedeco.pytorch.global.torch.randn;

/**
 * The ops benchmark ({@code frcnn bench --what ops}): NMS and RoIPool forward+backward on the fixed inputs of
 * {@code shared/bench/ops_input.json}.
 *
 * <p>Input format (JSON, as {@code ops_input.json}): {@code tensors.boxes} (N, 4) float32 in (ymin, xmin, ymax, xmax)
 * image pixels, {@code tensors.scores} (N,), {@code tensors.rois} (R, 4) in (ymin, xmin, ymax, xmax);
 * {@code params}: {@code nms_iou_thresh}, {@code nms_keep_max}, {@code feature_shape} (N, C, H, W),
 * {@code roi_size}, {@code spatial_scale}. The feature map is not stored; it is filled with {@code randn} after
 * {@code manual_seed(0)}, and the upstream gradient with {@code randn} after {@code manual_seed(1)}.
 */
public final class OpsBench {
    private OpsBench() {}

    /**
     * Runs the benchmark.
     *
     * <ul>
     *   <li>NMS: {@link Nms#nms(Tensor, Tensor, double, long)} with the file's IoU threshold (0.7) and keep limit
     *       (2,000), boxes as stored.</li>
     *   <li>RoIPool: {@link RoIPool#forward} ({@code roi_size} x {@code roi_size}, {@code spatial_scale}) on the
     *       feature map with {@code requires_grad}, the rois turned into the head's (0, x1, y1, x2, y2) rows, then
     *       {@code backward} with the fixed upstream gradient; the input's grad is reset to undefined before each
     *       repetition (as {@code zero_grad(set_to_none)}).</li>
     *   <li>RoIAlign: the same with {@link RoIAlign} (same size and scale, adaptive sampling ratio, aligned), the
     *       settings of the ResNet configs.</li>
     * </ul>
     *
     * @param inputJson the input file ({@code shared/bench/ops_input.json} format)
     * @param device {@code "cpu"} or a CUDA device ({@code "cuda"}, {@code "cuda:0"})
     * @param warmup untimed repetitions before the timed ones ({@code >= 0})
     * @param reps timed repetitions ({@code >= 1}); the medians are reported
     * @return keys in this order: {@code what} ("ops"), {@code device}, {@code threads} (LibTorch intra-op threads),
     *     {@code reps}, {@code nms_ms} (median), {@code nms_kept}, {@code roi_pool_fwd_bwd_ms} (median),
     *     {@code roi_align_fwd_bwd_ms} (median)
     * @throws UncheckedIOException if the file cannot be read
     * @throws IllegalArgumentException for bad counts
     * @throws UserInputException for an input file that lacks a parameter or tensor, or a {@code feature_shape}
     *     that is not 4-D
     */
    public static LinkedHashMap<String, Object> run(Path inputJson, String device, int warmup, int reps) {
        if (warmup < 0 || reps < 1) throw new IllegalArgumentException("need warmup >= 0 and reps >= 1");
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(inputJson.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the ops benchmark input " + inputJson, e);
        }
        JsonNode params = root.path("params");
        double iou = require(params, "nms_iou_thresh").asDouble();
        long keepMax = require(params, "nms_keep_max").asLong();
        int roiSize = require(params, "roi_size").asInt();
        double scale = require(params, "spatial_scale").asDouble();
        JsonNode fs = require(params, "feature_shape");
        long[] featureShape = new long[fs.size()];
        for (int i = 0; i < featureShape.length; i++) featureShape[i] = fs.get(i).asLong();
        if (featureShape.length != 4) {
            throw new UserInputException("feature_shape must be (N, C, H, W), got " + Arrays.toString(featureShape));
        }

        double[] nmsMs = new double[reps], roiMs = new double[reps], alignMs = new double[reps];
        long kept = -1;
        try (PointerScope outer = new PointerScope()) {
            Device dev = new Device(device);
            Tensor boxes = tensor(root, "boxes").to(dev, ScalarType.Float);
            Tensor scores = tensor(root, "scores").to(dev, ScalarType.Float);
            Tensor rois = tensor(root, "rois"); // (R, 4) ymin, xmin, ymax, xmax
            long r = rois.size(0);
            float[] yx = Tensors.toFloatArray(rois);
            float[] rows = new float[(int) r * 5];
            for (int i = 0; i < r; i++) { // the head's swap: (0, x1, y1, x2, y2)
                rows[i * 5 + 1] = yx[i * 4 + 1];
                rows[i * 5 + 2] = yx[i * 4];
                rows[i * 5 + 3] = yx[i * 4 + 3];
                rows[i * 5 + 4] = yx[i * 4 + 2];
            }
            Tensor indicesAndRois = Tensors.fromFloats(rows, r, 5).to(dev, ScalarType.Float);
            manual_seed(0);
            Tensor x = randn(featureShape).to(dev, ScalarType.Float).detach().requires_grad_(true);
            manual_seed(1);
            Tensor upstream = randn(r, featureShape[1], roiSize, roiSize).to(dev, ScalarType.Float);
            RoIPool pool = new RoIPool(roiSize, roiSize, scale);
            RoIAlign align = new RoIAlign(roiSize, roiSize, scale, 0, true);

            for (int i = 0; i < warmup + reps; i++) {
                try (PointerScope s = new PointerScope()) {
                    long t0 = System.nanoTime();
                    Tensor keep = Nms.nms(boxes, scores, iou, keepMax);
                    long n = keep.size(0); // NMS synchronises on CUDA
                    long t1 = System.nanoTime();
                    if (i >= warmup) {
                        nmsMs[i - warmup] = (t1 - t0) / 1e6;
                        kept = n;
                    }
                }
                double poolMs = forwardBackwardMs(pool::forward, x, indicesAndRois, upstream);
                double alignOnceMs = forwardBackwardMs(align::forward, x, indicesAndRois, upstream);
                if (i >= warmup) {
                    roiMs[i - warmup] = poolMs;
                    alignMs[i - warmup] = alignOnceMs;
                }
            }
        }
        LinkedHashMap<String, Object> out = new LinkedHashMap<>();
        out.put("what", "ops");
        out.put("device", device);
        out.put("threads", get_num_threads());
        out.put("reps", reps);
        out.put("nms_ms", median(nmsMs));
        out.put("nms_kept", kept);
        out.put("roi_pool_fwd_bwd_ms", median(roiMs));
        out.put("roi_align_fwd_bwd_ms", median(alignMs));
        return out;
    }

    /** One forward + backward of a RoI op with a fixed upstream gradient, in ms (the input's grad reset first). */
    private static double forwardBackwardMs(RoIOperator op, Tensor x, Tensor indicesAndRois, Tensor upstream) {
        try (PointerScope s = new PointerScope()) {
            x.mutable_grad().reset();
            long t0 = System.nanoTime();
            Tensor out = op.apply(x, indicesAndRois);
            out.backward(upstream, new BoolOptional(), false, new TensorArrayRefOptional());
            x.grad().view(-1).narrow(0, 0, 1).item_float(); // waits for the device
            return (System.nanoTime() - t0) / 1e6;
        }
    }

    private static JsonNode require(JsonNode params, String key) {
        JsonNode n = params.get(key);
        if (n == null || n.isNull()) throw new UserInputException("ops benchmark input lacks params." + key);
        return n;
    }

    private static Tensor tensor(JsonNode root, String name) {
        JsonNode t = root.path("tensors").get(name);
        if (t == null) throw new UserInputException("ops benchmark input lacks tensors." + name);
        JsonNode sh = t.get("shape"), data = t.get("data");
        long[] shape = new long[sh.size()];
        for (int i = 0; i < shape.length; i++) shape[i] = sh.get(i).asLong();
        float[] v = new float[data.size()];
        for (int i = 0; i < v.length; i++) v[i] = (float) data.get(i).asDouble();
        return Tensors.fromFloats(v, shape);
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int m = s.length / 2;
        return s.length % 2 == 1 ? s[m] : (s[m - 1] + s[m]) / 2;
    }
}
