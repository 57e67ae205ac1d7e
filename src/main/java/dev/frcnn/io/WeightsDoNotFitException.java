package dev.frcnn.io;

import java.nio.file.Path;

/**
 * A readable weights file whose tensors do not fit the model its config describes (missing or unexpected keys,
 * wrong shapes: e.g. a VGG16 file with a ResNet config, or 20-class weights for 3 class names). The message names
 * the file, the model and the mismatches.
 */
public class WeightsDoNotFitException extends WeightsFormatException {
    private static final long serialVersionUID = 1L;

    /**
     * @param file the weights file
     * @param problem which model they were loaded into and what did not fit
     * @param cause the {@link WeightsMismatchException} listing the keys and shapes
     */
    public WeightsDoNotFitException(Path file, String problem, Throwable cause) {
        super(file, problem, cause);
    }
}
