package dev.frcnn.tensor;

import dev.frcnn.error.UserInputException;
import org.bytedeco.pytorch.Device;

import java.util.Arrays;
import java.util.List;

/**
 * Where a model runs: the one parser of the {@code --device} option and of {@code DetectorOptions.device}.
 */
public enum ComputeDevice {
    /** LibTorch's CPU device. */
    CPU("cpu"),
    /** The first CUDA device (needs the CUDA LibTorch natives and a GPU). */
    CUDA("cuda");

    /** The accepted names, in declaration order. */
    public static final List<String> NAMES = Arrays.stream(values()).map(ComputeDevice::configName).toList();

    private final String configName;

    ComputeDevice(String configName) {
        this.configName = configName;
    }

    /** The name users write ({@code cpu}, {@code cuda}). */
    public String configName() {
        return configName;
    }

    /**
     * @param name {@code cpu} or {@code cuda}
     * @return the device kind
     * @throws IllegalArgumentException for another name, listing the accepted ones
     */
    public static ComputeDevice fromName(String name) {
        for (ComputeDevice d : values()) if (d.configName.equals(name)) return d;
        throw new IllegalArgumentException("device must be one of " + String.join(", ", NAMES) + ", got '" + name + "'");
    }

    /**
     * The LibTorch device, checked to exist.
     *
     * @return a new {@link Device}
     * @throws UserInputException for {@link #CUDA} where no CUDA device is available (the user asked for a device
     *     that this machine or build does not have)
     */
    public Device open() {
        if (this == CUDA && !org.bytedeco.pytorch.global.torch.cuda_is_available()) {
            throw new UserInputException("device cuda: no CUDA device is available (this build uses the CPU "
                    + "LibTorch natives unless built with -Pgpu; see README)");
        }
        return new Device(configName);
    }
}
