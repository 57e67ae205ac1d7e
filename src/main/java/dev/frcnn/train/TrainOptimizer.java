package dev.frcnn.train;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * The optimizer a {@link FasterRCNNTrainer} steps: one parameter group per trainable parameter, in
 * {@code named_parameters()} order, as the reference's {@code FasterRCNN.get_optimizer} builds it. Implementations:
 * {@link MomentumSgd} (the reference's SGD) and {@link LibTorchOptimizer} (LibTorch's Adam, {@code use_adam}).
 */
public interface TrainOptimizer {
    /**
     * The settings of one group.
     *
     * @param name the parameter's name in {@code named_parameters()}
     * @param lr learning rate
     * @param weightDecay L2 weight decay
     * @param momentum SGD momentum (0 for Adam)
     * @param dampening SGD dampening (0)
     * @param nesterov whether SGD uses Nesterov momentum (never)
     */
    record Group(String name, double lr, double weightDecay, double momentum, double dampening, boolean nesterov) {}

    /** Sets every parameter's gradient to none (LibTorch's and PyTorch's {@code zero_grad(set_to_none=True)}). */
    void zeroGrad();

    /** One update of every parameter that has a gradient (parameters without one are skipped, as LibTorch does). */
    void step();

    /** The groups, in order. */
    List<Group> groups();

    /** Number of groups. */
    int groupCount();

    /** The learning rate of group {@code group}. */
    double lr(int group);

    /** Sets the learning rate of group {@code group}. */
    void setLr(int group, double lr);

    /**
     * The optimizer's state (momentum buffers) as a LibTorch optimizer archive ({@code torch::serialize}), the form
     * checkpoints store it in.
     *
     * @throws IOException if the archive cannot be written
     */
    byte[] saveState() throws IOException;

    /**
     * Restores the state written by {@link #saveState} (or by LibTorch's own optimizer of the same kind).
     *
     * @param archive the archive's bytes
     * @param source the file it came from, for error messages
     * @throws IOException if it cannot be read
     * @throws dev.frcnn.io.WeightsFormatException if it does not fit this optimizer's groups
     */
    void loadState(byte[] archive, Path source) throws IOException;
}
