/**
 * Faster R-CNN for the JVM over LibTorch. The public API is {@link dev.frcnn.api} ({@code Detector},
 * {@code DetectorOptions}); the other exported packages are the library's building blocks (model, config, data,
 * io, train, eval, ops) and {@link dev.frcnn.error} (the base type of the user's errors). Internals are not
 * exported: the Panama bindings of the native ops ({@code ops.nativeops}), the assembly of models from configs and
 * weights files ({@code assembly}), benchmarks ({@code bench}), tensor helpers ({@code tensor}), the c10d process
 * group ({@code dist}) and the command line ({@code cli}). See docs/embedding.md.
 */
module dev.frcnn {
    requires transitive org.bytedeco.javacpp;
    requires transitive org.bytedeco.pytorch;
    requires org.bytedeco.opencv;
    requires transitive com.fasterxml.jackson.databind;
    requires com.fasterxml.jackson.dataformat.xml;
    requires info.picocli;
    requires me.tongfei.progressbar;
    requires org.knowm.xchart; // charts: loss curve, metrics per epoch, PR curves (dev.frcnn.chart)
    requires transitive java.desktop;
    requires jdk.unsupported; // sun.misc.Signal: graceful stop on SIGTERM/SIGINT (cli.StopSignals)

    exports dev.frcnn.api;
    exports dev.frcnn.config;
    exports dev.frcnn.data;
    exports dev.frcnn.error;
    exports dev.frcnn.eval;
    exports dev.frcnn.io;
    exports dev.frcnn.model;
    exports dev.frcnn.model.utils;
    exports dev.frcnn.model.backbone;
    exports dev.frcnn.model.rpn;
    exports dev.frcnn.model.roi;
    exports dev.frcnn.ops;
    exports dev.frcnn.train;

    opens dev.frcnn.config to com.fasterxml.jackson.databind;
    opens dev.frcnn.cli to info.picocli;
}
