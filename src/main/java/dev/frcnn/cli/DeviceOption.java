package dev.frcnn.cli;

import dev.frcnn.assembly.LoadedModel;
import org.bytedeco.pytorch.Device;
import picocli.CommandLine.Option;

/** {@code --device cpu|cuda} (default cpu): where the model runs. Every command has it (a picocli mixin). */
final class DeviceOption {
    @Option(names = "--device", defaultValue = "cpu", description = "cpu | cuda (default: ${DEFAULT-VALUE})")
    String device;

    /** @return the name as given ({@code cpu} unless set) */
    String name() {
        return device;
    }

    /**
     * @return the LibTorch device ({@link LoadedModel#device})
     * @throws dev.frcnn.error.UserInputException for another name, or {@code cuda} where no CUDA device is
     *     available (exit code 2; the message names {@code --device})
     */
    Device resolve() {
        return LoadedModel.device(device);
    }
}
