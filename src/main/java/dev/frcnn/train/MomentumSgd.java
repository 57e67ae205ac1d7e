package dev.frcnn.train;

import dev.frcnn.io.WeightsFormatException;
import dev.frcnn.ops.SgdStep;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.IValue;
import org.bytedeco.pytorch.InputArchive;
import org.bytedeco.pytorch.OutputArchive;
import org.bytedeco.pytorch.Tensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.bytedeco.pytorch.global.torch.empty_like;
import static org.bytedeco.pytorch.global.torch.scalar_tensor;

/**
 * SGD with momentum (dampening 0, not Nesterov), one group per parameter: LibTorch's {@code torch::optim::SGD} as the
 * reference uses {@code torch.optim.SGD}, with the same results bit for bit, but each parameter updated in one pass
 * ({@link SgdStep}) instead of LibTorch's four. This class owns the momentum buffers (LibTorch's presets do not expose
 * an optimizer's state, so a LibTorch SGD's buffers could not be handed to a fused step).
 *
 * <p>Its state is saved in LibTorch's own SGD archive layout ({@code pytorch_version}, {@code state/<key>/momentum_buffer},
 * {@code param_groups/<i>/params/0} and {@code options}), so checkpoints written before this class existed (by
 * LibTorch's SGD) load into it, and its archives load into LibTorch's SGD.
 */
public final class MomentumSgd implements TrainOptimizer {
    private final String[] names;
    private final Tensor[] params;
    private final double[] lrs;
    private final double[] weightDecays;
    private final double momentum;
    /** Per parameter: the momentum buffer, or null before its first step. Owned here (not in any PointerScope). */
    private final Tensor[] buffers;

    /**
     * @param names parameter names, one per group
     * @param params the parameters (float32 on the CPU take the one-pass native step), same order
     * @param lrs learning rate per group
     * @param weightDecays weight decay per group
     * @param momentum momentum of every group (the reference: 0.9)
     * @throws IllegalArgumentException if the lists differ in length or are empty
     */
    public MomentumSgd(List<String> names, List<Tensor> params, double[] lrs, double[] weightDecays, double momentum) {
        int n = params.size();
        if (n == 0) throw new IllegalArgumentException("no parameters to optimize");
        if (names.size() != n || lrs.length != n || weightDecays.length != n) {
            throw new IllegalArgumentException("need one name, lr and weight decay per parameter: " + names.size()
                    + ", " + lrs.length + ", " + weightDecays.length + " for " + n + " parameters");
        }
        this.names = names.toArray(String[]::new);
        this.params = new Tensor[n];
        try (PointerScope s = new PointerScope()) {
            for (int i = 0; i < n; i++) {
                // our own handle on each parameter (a caller's may live in a container that is freed later)
                this.params[i] = new Tensor(params.get(i));
                this.params[i].retainReference();
            }
        }
        this.lrs = lrs.clone();
        this.weightDecays = weightDecays.clone();
        this.momentum = momentum;
        this.buffers = new Tensor[n];
    }

    @Override
    public void zeroGrad() {
        try (PointerScope s = new PointerScope()) {
            for (Tensor p : params) {
                if (p.grad().defined()) p.mutable_grad().reset();
            }
        }
    }

    @Override
    public void step() {
        try (PointerScope s = new PointerScope()) {
            for (int i = 0; i < params.length; i++) {
                Tensor p = params[i];
                Tensor g = p.grad();
                if (!g.defined()) continue;
                boolean first = buffers[i] == null;
                if (first) buffers[i] = newBuffer(p);
                SgdStep.step(p, g, buffers[i], lrs[i], weightDecays[i], momentum, first);
            }
        }
    }

    private static Tensor newBuffer(Tensor p) {
        try (PointerScope s = new PointerScope()) {
            Tensor b = empty_like(p.detach());
            b.retainReference();
            return b;
        }
    }

    @Override
    public List<Group> groups() {
        List<Group> out = new ArrayList<>(params.length);
        for (int i = 0; i < params.length; i++) out.add(new Group(names[i], lrs[i], weightDecays[i], momentum, 0, false));
        return out;
    }

    @Override
    public int groupCount() {
        return params.length;
    }

    @Override
    public double lr(int group) {
        return lrs[group];
    }

    @Override
    public void setLr(int group, double lr) {
        lrs[group] = lr;
    }

    /** The momentum buffer of group {@code group} (a view for reading), or null before its first step. */
    public Tensor momentumBuffer(int group) {
        return buffers[group];
    }

    @Override
    public byte[] saveState() throws IOException {
        try (PointerScope s = new PointerScope()) {
            OutputArchive root = new OutputArchive();
            root.write("pytorch_version", new IValue("1.5.0"));
            OutputArchive state = new OutputArchive(root.compilation_unit());
            for (int i = 0; i < params.length; i++) {
                if (buffers[i] == null) continue;
                OutputArchive one = new OutputArchive(root.compilation_unit());
                one.write("momentum_buffer", buffers[i]);
                state.write(stateKey(i), one);
            }
            root.write("state", state);
            OutputArchive groups = new OutputArchive(root.compilation_unit());
            groups.write("param_groups/size", scalar_tensor(new org.bytedeco.pytorch.Scalar((long) params.length)));
            for (int i = 0; i < params.length; i++) {
                OutputArchive group = new OutputArchive(root.compilation_unit());
                group.write("params/size", scalar_tensor(new org.bytedeco.pytorch.Scalar(1L)));
                group.write("params/0", new IValue(stateKey(i)));
                OutputArchive options = new OutputArchive(root.compilation_unit());
                options.write("lr", new IValue(lrs[i]));
                options.write("momentum", new IValue(momentum));
                options.write("dampening", new IValue(0.0));
                options.write("weight_decay", new IValue(weightDecays[i]));
                options.write("nesterov", new IValue(false));
                group.write("options", options);
                groups.write("param_groups/" + i, group);
            }
            root.write("param_groups", groups);
            return OptimizerArchives.toBytes(root);
        }
    }

    /** The state key of parameter {@code i}: LibTorch writes a TensorImpl address and reads the key as an unsigned number. */
    private static String stateKey(int i) {
        return Integer.toString(i + 1);
    }

    @Override
    public void loadState(byte[] archive, Path source) throws IOException {
        Tensor[] loaded = new Tensor[params.length];
        double[] loadedLrs = lrs.clone();
        try (PointerScope s = new PointerScope()) {
            OptimizerArchives.read(archive, source, root -> readState(root, source, loaded, loadedLrs));
        } catch (IOException | RuntimeException e) {
            for (Tensor t : loaded) if (t != null) t.releaseReference();
            throw e;
        }
        for (int i = 0; i < params.length; i++) {
            if (buffers[i] != null) buffers[i].releaseReference();
            buffers[i] = loaded[i];
        }
        System.arraycopy(loadedLrs, 0, lrs, 0, lrs.length);
    }

    /** Reads every group's momentum buffer and lr from {@code root} into {@code loaded} and {@code loadedLrs}. */
    private void readState(InputArchive root, Path source, Tensor[] loaded, double[] loadedLrs) throws IOException {
        InputArchive groups = new InputArchive(), state = new InputArchive();
        if (!root.try_read("param_groups", groups) || !root.try_read("state", state)) {
            throw new WeightsFormatException(source, "the optimizer state has no param_groups/state (not an SGD archive)");
        }
        Tensor size = new Tensor();
        if (!groups.try_read("param_groups/size", size)) {
            throw new WeightsFormatException(source, "the optimizer state has no param_groups/size");
        }
        if (size.item_long() != params.length) {
            throw new WeightsFormatException(source, "the optimizer state has " + size.item_long()
                    + " parameter groups, the model " + params.length);
        }
        for (int i = 0; i < params.length; i++) {
            InputArchive group = new InputArchive();
            if (!groups.try_read("param_groups/" + i, group)) {
                throw new WeightsFormatException(source, "the optimizer state lacks param_groups/" + i);
            }
            IValue key = new IValue();
            if (!group.try_read("params/0", key) || !key.isString()) {
                throw new WeightsFormatException(source, "param_groups/" + i + " of the optimizer state has no params/0");
            }
            InputArchive options = new InputArchive();
            if (group.try_read("options", options)) {
                IValue lr = new IValue();
                if (options.try_read("lr", lr) && lr.isDouble()) loadedLrs[i] = lr.toDouble();
                IValue m = new IValue();
                if (options.try_read("momentum", m) && m.isDouble() && m.toDouble() != momentum) {
                    throw new WeightsFormatException(source, "param_groups/" + i + " of the optimizer state has momentum "
                            + m.toDouble() + ", this run " + momentum);
                }
            }
            InputArchive one = new InputArchive();
            if (!state.try_read(key.toStringRef().getString(), one)) continue;   // no step taken yet
            Tensor buf = new Tensor();
            if (!one.try_read("momentum_buffer", buf)) {
                throw new WeightsFormatException(source, "the optimizer state of " + names[i] + " has no momentum_buffer"
                        + " (not an SGD archive)");
            }
            if (!Arrays.equals(Tensors.shape(buf), Tensors.shape(params[i]))) {
                throw new WeightsFormatException(source, "the momentum buffer of " + names[i] + " has shape "
                        + Tensors.shapeString(buf) + ", the parameter " + Tensors.shapeString(params[i]));
            }
            Tensor b = newBuffer(params[i]);
            b.copy_(buf);
            loaded[i] = b;
        }
    }
}
