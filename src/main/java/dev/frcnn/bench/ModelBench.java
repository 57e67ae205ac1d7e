package dev.frcnn.bench;

import dev.frcnn.config.Config;
import dev.frcnn.data.ImageReader;
import dev.frcnn.data.Preprocessing;
import dev.frcnn.model.DetectionModel;
import dev.frcnn.model.FasterRCNN;
import dev.frcnn.model.ImageSize;
import dev.frcnn.model.TorchvisionFasterRCNN;
import dev.frcnn.model.roi.Thresholds;
import dev.frcnn.tensor.Autocast;
import dev.frcnn.tensor.ConvolutionBackward;
import dev.frcnn.tensor.NativeHeap;
import dev.frcnn.tensor.PrimitiveCache;
import dev.frcnn.tensor.Tensors;
import dev.frcnn.train.FasterRCNNTrainer;
import dev.frcnn.train.Sampler;
import dev.frcnn.train.StepTrainer;
import dev.frcnn.train.StepTrainers;
import dev.frcnn.data.Transform;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Benchmarks of the whole model: {@code predict} on one image ({@code infer}) and one {@code train_step} including the
 * optimizer step ({@code train}), with resident memory before and after the timed repetitions so that a long run
 * shows whether memory stays flat.
 */
public final class ModelBench {
    private ModelBench() {}

    /**
     * Median time of {@link FasterRCNN#predict} on {@code image} preprocessed at the config's min/max size.
     *
     * @param model the detector (random or loaded weights), already on {@code device}
     * @return keys: what, device, threads, reps, backbone, precision (the one that ran: fp32 or bf16),
     *     precision_requested, malloc_env, primitive_cache_env, cpu_caches, conv_backward, input_hw, infer_ms (median),
     *     infer_ms_min, rss_mb_after_warmup, rss_mb_end
     */
    public static LinkedHashMap<String, Object> infer(DetectionModel model, Config cfg, Path image, Device device,
                                                      int warmup, int reps) {
        if (!(model instanceof FasterRCNN frcnn)) return inferDetect(model, cfg, image, device, warmup, reps);
        return infer(frcnn, cfg, image, device, warmup, reps);
    }

    private static LinkedHashMap<String, Object> infer(FasterRCNN model, Config cfg, Path image, Device device,
                                                       int warmup, int reps) {
        model.train(false);
        Preprocessing pre = cfg.preprocessing();
        Tensor x;
        ImageSize size;
        try (PointerScope s = new PointerScope()) {
            Tensor img = ImageReader.readRgbChw(image);
            size = new ImageSize((int) img.size(1), (int) img.size(2));
            x = pre.apply(img).to(device, img.scalar_type()).retainReference();
        }
        LinkedHashMap<String, Object> r = header("infer", device, reps, cfg, model);
        r.put("input_hw", new long[]{x.size(1), x.size(2)});
        timed(r, "infer_ms", warmup, reps, () -> model.predict(List.of(x), List.of(size), Thresholds.VISUALIZE));
        x.close();
        return r;
    }

    /**
     * Median time of {@link DetectionModel#detect} (the whole model: its own transform from the decoded image,
     * backbone, RPN, heads, postprocess at {@link Thresholds#EVALUATE}'s score 0.05, torchvision's default) for
     * a model that is not a reference-family {@link FasterRCNN} ({@code dev.frcnn.model.TorchvisionFasterRCNN}).
     * {@code input_hw} is the decoded image's size, {@code resized_hw} the transform's (torchvision's model).
     */
    private static LinkedHashMap<String, Object> inferDetect(DetectionModel model, Config cfg, Path image,
                                                             Device device, int warmup, int reps) {
        model.module().train(false);
        Preprocessing pre = cfg.preprocessing();
        Tensor img;
        try (PointerScope s = new PointerScope()) {
            Tensor decoded = ImageReader.readRgbChw(image);
            img = decoded.to(device, decoded.scalar_type()).retainReference();
        }
        LinkedHashMap<String, Object> r = header("infer", device, reps, cfg, model);
        r.put("input_hw", new long[]{img.size(1), img.size(2)});
        if (model instanceof TorchvisionFasterRCNN tv) {
            ImageSize resized = tv.transform().resizedSize(new ImageSize((int) img.size(1), (int) img.size(2)));
            r.put("resized_hw", new long[]{resized.height(), resized.width()});
        }
        timed(r, "infer_ms", warmup, reps, () -> model.detect(img, pre, Thresholds.EVALUATE));
        img.close();
        return r;
    }

    /**
     * {@link #infer(DetectionModel, Config, Path, Device, int, int)}, then the throughput of {@code callers} threads
     * calling the one model at once, as a service embedding {@code dev.frcnn.api.Detector} does: each caller runs
     * {@link FasterRCNN#detect} (preprocessing, predict, visualize preset) on the decoded image once untimed and then
     * {@code reps} times; {@code images_per_s} = callers x reps / wall time from the first timed call to the last.
     *
     * @param callers concurrent caller threads (&ge; 1)
     * @return the keys of {@code infer} plus callers, images_per_s
     */
    public static LinkedHashMap<String, Object> infer(DetectionModel model, Config cfg, Path image, Device device,
                                                      int warmup, int reps, int callers) {
        LinkedHashMap<String, Object> r = infer(model, cfg, image, device, warmup, reps);
        r.put("callers", callers);
        r.put("images_per_s", throughput(model, cfg.preprocessing(), image, device, reps, callers));
        return r;
    }

    private static double throughput(DetectionModel model, Preprocessing pre, Path image, Device device, int reps,
                                     int callers) {
        Tensor img;
        try (PointerScope s = new PointerScope()) {
            Tensor decoded = ImageReader.readRgbChw(image);
            img = decoded.to(device, decoded.scalar_type()).retainReference();
        }
        CyclicBarrier start = new CyclicBarrier(callers + 1);
        ExecutorService pool = Executors.newFixedThreadPool(callers);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int c = 0; c < callers; c++) {
                done.add(pool.submit(() -> {
                    try (PointerScope s = new PointerScope()) {
                        model.detect(img, pre, Thresholds.VISUALIZE);
                    }
                    start.await();
                    for (int i = 0; i < reps; i++) {
                        try (PointerScope s = new PointerScope()) {
                            model.detect(img, pre, Thresholds.VISUALIZE);
                        }
                    }
                    return null;
                }));
            }
            start.await();
            long t0 = System.nanoTime();
            for (Future<?> f : done) f.get();
            return (double) callers * reps / ((System.nanoTime() - t0) / 1e9);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException | BrokenBarrierException e) {
            throw new IllegalStateException("a caller failed: " + e.getCause(), e.getCause());
        } finally {
            pool.shutdownNow();
            img.close();
        }
    }

    /**
     * Median time of one training step of the model's family ({@link StepTrainers#forModel}: for the reference family
     * {@link FasterRCNNTrainer#trainStep}, for torchvision's {@code TorchvisionTrainer}; forward, losses, backward,
     * SGD step) on {@code image} as the family's train transform gives it ({@link StepTrainers#transform}, not
     * flipped), with three fixed gt boxes, labelled 11, 14 and 6 (modulo the model's number of foreground classes, so
     * that weights with fewer classes than VOC's 20 work).
     *
     * @param model a reference-family {@link FasterRCNN} or a {@link TorchvisionFasterRCNN} on {@code device}
     * @return keys: what, device, threads, reps, backbone, precision, precision_requested, malloc_env,
     *     primitive_cache_env, cpu_caches, conv_backward, input_hw (the sample's size: the reference family's resized
     *     image, torchvision's original one, which its model resizes), train_step_ms (median), train_step_ms_min,
     *     rss_mb_after_warmup, rss_mb_end
     */
    public static LinkedHashMap<String, Object> train(DetectionModel model, Config cfg, Path image, Device device,
                                                      int warmup, int reps) {
        model.module().train(true);
        StepTrainer trainer = StepTrainers.forModel(model, cfg, Sampler.seeded(cfg.seed()));
        Tensor x, bbox, label;
        double scale;
        try (PointerScope s = new PointerScope()) {
            Tensor img = ImageReader.readRgbChw(image);
            float h = img.size(1), w = img.size(2);
            Tensor boxes = Tensors.fromFloats(new float[]{
                    0.10f * h, 0.10f * w, 0.60f * h, 0.45f * w,
                    0.30f * h, 0.50f * w, 0.90f * h, 0.95f * w,
                    0.05f * h, 0.60f * w, 0.35f * h, 0.80f * w}, 3, 4);
            // Labels 11, 14, 6 of the 20 VOC classes; wrapped into range for models with fewer classes.
            int nFg = model.classNames().size();
            Tensor labels = Tensors.fromLongs(new long[]{11 % nFg, 14 % nFg, 6 % nFg}, 3);
            Transform.Sample sample = StepTrainers.transform(cfg).apply(img, boxes, labels, false);
            scale = sample.scale();
            x = sample.img().to(device, sample.img().scalar_type()).retainReference();
            bbox = sample.bbox().to(device, sample.bbox().scalar_type()).retainReference();
            label = sample.label().to(device, sample.label().scalar_type()).retainReference();
        }
        LinkedHashMap<String, Object> r = header("train", device, reps, cfg, model);
        r.put("input_hw", new long[]{x.size(1), x.size(2)});
        timed(r, "train_step_ms", warmup, reps, () -> trainer.trainBatch(List.of(x), List.of(bbox), List.of(label),
                new double[]{scale}, i -> {}));
        x.close();
        bbox.close();
        label.close();
        return r;
    }

    /**
     * Runs {@code body} {@code warmup + reps} times, each in its own PointerScope, and puts into {@code r}: the median
     * ({@code key}) and minimum ({@code key_min}) ms of the timed repetitions, and the RSS after the warm-up and at
     * the end. Where the heap is trimmed periodically ({@link NativeHeap#trimsPeriodically()}), both RSS samples are
     * taken right after a trim, so that they compare the memory still in use and not where each sample falls in
     * the trim period (the untrimmed peak is bounded by the period).
     */
    private static void timed(LinkedHashMap<String, Object> r, String key, int warmup, int reps, Runnable body) {
        double[] ms = new double[reps];
        double rssWarm = 0;
        for (int i = 0; i < warmup + reps; i++) {
            if (i == warmup) rssWarm = trimmedRssMb();
            long t0 = System.nanoTime();
            try (PointerScope s = new PointerScope()) {
                body.run();
            }
            if (i >= warmup) ms[i - warmup] = (System.nanoTime() - t0) / 1e6;
        }
        r.put(key, median(ms));
        r.put(key + "_min", Arrays.stream(ms).min().orElse(Double.NaN));
        r.put("rss_mb_after_warmup", rssWarm);
        r.put("rss_mb_end", trimmedRssMb());
    }

    private static double trimmedRssMb() {
        if (NativeHeap.trimsPeriodically()) NativeHeap.trim();
        return rssMb();
    }

    /** The glibc malloc settings that bin/frcnn exports (docs/performance.md); reported so timings can be compared. */
    private static final List<String> MALLOC_ENV = List.of("MALLOC_ARENA_MAX", "MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_");

    private static LinkedHashMap<String, Object> header(String what, Device device, int reps, Config cfg,
                                                        DetectionModel model) {
        LinkedHashMap<String, Object> r = new LinkedHashMap<>();
        r.put("what", what);
        r.put("device", device.is_cuda() ? "cuda" : "cpu");
        r.put("threads", torch.get_num_threads());
        r.put("reps", reps);
        r.put("backbone", cfg.backbone());
        r.put("precision", Autocast.effective(model.precision(), device).configName());
        r.put("precision_requested", model.precision().configName());
        LinkedHashMap<String, String> malloc = new LinkedHashMap<>();
        for (String k : MALLOC_ENV) malloc.put(k, System.getenv(k));
        r.put("malloc_env", malloc);
        LinkedHashMap<String, String> cache = new LinkedHashMap<>();
        for (String k : List.of(PrimitiveCache.VARIABLE, PrimitiveCache.LEGACY_VARIABLE)) {
            cache.put(k, PrimitiveCache.getenv(k));
        }
        r.put("primitive_cache_env", cache);
        ConvolutionBackward.Decision conv = ConvolutionBackward.decision();
        r.put("cpu_caches", conv.topology().describe());
        r.put("conv_backward", conv.mode().name().toLowerCase(java.util.Locale.ROOT));
        return r;
    }

    /** Median of the values (mean of the middle two for an even count). */
    public static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int n = s.length;
        return n == 0 ? Double.NaN : n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    /** Resident set size of this process in MB (VmRSS from /proc/self/status; NaN where unavailable). */
    public static double rssMb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
                }
            }
        } catch (IOException | NumberFormatException e) {
            return Double.NaN;
        }
        return Double.NaN;
    }
}
