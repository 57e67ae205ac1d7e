package dev.frcnn.tensor;

import java.util.Arrays;
import java.util.List;

/**
 * Arithmetic precision of a model's forward pass (config key {@code precision}).
 *
 * <ul>
 *   <li>{@link #FP32}: everything in float32; the reference's numbers (the parity path, the default).</li>
 *   <li>{@link #BF16}: mixed precision as PyTorch's {@code torch.autocast(dtype=torch.bfloat16)}: convolutions and
 *       linear layers compute in bfloat16 (channels-last activations on the CPU); weights, gradients, optimizer
 *       state, losses, softmax, box decoding, anchor/target creation, the RoI ops, NMS and evaluation stay float32.
 *       See {@link Autocast} and {@code docs/performance.md} for the speed and accuracy it costs.</li>
 * </ul>
 */
public enum Precision {
    /** float32 throughout (default). */
    FP32("fp32"),
    /** bfloat16 autocast for convolutions and linear layers, float32 elsewhere. */
    BF16("bf16");

    /** The names {@code precision} accepts, in declaration order. */
    public static final List<String> NAMES = Arrays.stream(values()).map(Precision::configName).toList();

    private final String configName;

    Precision(String configName) {
        this.configName = configName;
    }

    /** The config value ({@code fp32}, {@code bf16}). */
    public String configName() { return configName; }

    /**
     * @param name {@code fp32} or {@code bf16}
     * @return the precision
     * @throws IllegalArgumentException for another name
     */
    public static Precision fromName(String name) {
        for (Precision p : values()) {
            if (p.configName.equals(name)) return p;
        }
        throw new IllegalArgumentException("precision must be one of " + String.join(", ", NAMES) + ", got " + name);
    }
}
