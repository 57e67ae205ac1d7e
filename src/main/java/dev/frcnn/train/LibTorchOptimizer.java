package dev.frcnn.train;

import org.bytedeco.pytorch.OutputArchive;
import org.bytedeco.pytorch.Optimizer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/** A {@link TrainOptimizer} over one of LibTorch's optimizers (Adam for {@code use_adam}); its state is LibTorch's. */
public final class LibTorchOptimizer implements TrainOptimizer {
    private final Optimizer optimizer;
    private final List<Group> groups;

    /**
     * @param optimizer the LibTorch optimizer, one group per parameter
     * @param groups the groups' settings as built, in the optimizer's group order
     */
    public LibTorchOptimizer(Optimizer optimizer, List<Group> groups) {
        this.optimizer = Objects.requireNonNull(optimizer, "optimizer");
        this.groups = List.copyOf(groups);
        if (optimizer.param_groups().size() != groups.size()) {
            throw new IllegalArgumentException(optimizer.param_groups().size() + " groups but " + groups.size()
                    + " settings");
        }
    }

    @Override
    public void zeroGrad() {
        optimizer.zero_grad();
    }

    @Override
    public void step() {
        optimizer.step();
    }

    @Override
    public List<Group> groups() {
        List<Group> out = new java.util.ArrayList<>(groups.size());
        for (int g = 0; g < groups.size(); g++) {
            Group s = groups.get(g);
            out.add(new Group(s.name(), lr(g), s.weightDecay(), s.momentum(), s.dampening(), s.nesterov()));
        }
        return out;
    }

    @Override
    public int groupCount() {
        return groups.size();
    }

    @Override
    public double lr(int group) {
        return optimizer.param_groups().get(group).options().get_lr();
    }

    @Override
    public void setLr(int group, double lr) {
        optimizer.param_groups().get(group).options().set_lr(lr);
    }

    @Override
    public byte[] saveState() throws IOException {
        OutputArchive oa = new OutputArchive();
        optimizer.save(oa);
        return OptimizerArchives.toBytes(oa);
    }

    @Override
    public void loadState(byte[] archive, Path source) throws IOException {
        OptimizerArchives.read(archive, source, optimizer::load);
    }
}
