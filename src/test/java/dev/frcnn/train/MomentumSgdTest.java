package dev.frcnn.train;

import dev.frcnn.io.WeightsFormatException;
import dev.frcnn.ops.SgdStep;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.InputArchive;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.OptimizerParamGroup;
import org.bytedeco.pytorch.OutputArchive;
import org.bytedeco.pytorch.SGD;
import org.bytedeco.pytorch.SGDOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.bytedeco.pytorch.global.torch.manual_seed;
import static org.bytedeco.pytorch.global.torch.randn;

/**
 * {@link MomentumSgd} against LibTorch's own {@code torch::optim::SGD} with the same groups: parameters bit for bit
 * equal after every step (the one-pass native step and the tensor-op fallback), and states that travel both ways
 * between the two through the archive (the checkpoints of runs from before {@link MomentumSgd} resume exactly).
 */
class MomentumSgdTest {
    /** Sizes: tiny, odd (vector tails), a 2-D weight, and one above the native step's two-thread threshold. */
    private static final long[][] SHAPES = {{1}, {7}, {33, 17}, {256, 64, 3, 3}, {1_000_003}};
    private static final double LR = 1e-3, WD = 5e-4;

    private static final class Pair {
        final List<Tensor> ours = new ArrayList<>(), theirs = new ArrayList<>();
        final List<String> names = new ArrayList<>();
        double[] lrs, wds;
        MomentumSgd sgd;
        SGD reference;

        Pair(boolean nonContiguous) {
            manual_seed(3);
            lrs = new double[SHAPES.length];
            wds = new double[SHAPES.length];
            for (int i = 0; i < SHAPES.length; i++) {
                Tensor init = randn(SHAPES[i]);
                if (nonContiguous && SHAPES[i].length == 2) init = init.t().contiguous().t(); // a transposed leaf
                ours.add(init.clone(new org.bytedeco.pytorch.MemoryFormatOptional(
                        org.bytedeco.pytorch.global.torch.MemoryFormat.Preserve)).requires_grad_(true));
                theirs.add(init.clone(new org.bytedeco.pytorch.MemoryFormatOptional(
                        org.bytedeco.pytorch.global.torch.MemoryFormat.Preserve)).requires_grad_(true));
                boolean bias = i % 2 == 0;
                names.add(bias ? "p" + i + ".bias" : "p" + i + ".weight");
                lrs[i] = bias ? 2 * LR : LR;
                wds[i] = bias ? 0 : WD;
            }
            sgd = new MomentumSgd(names, ours, lrs, wds, 0.9);
            for (int i = 0; i < SHAPES.length; i++) {
                SGDOptions o = new SGDOptions(lrs[i]);
                o.momentum().put(0.9);
                o.weight_decay().put(wds[i]);
                TensorVector p = new TensorVector(theirs.get(i));
                if (reference == null) reference = new SGD(p, o); else reference.add_param_group(new OptimizerParamGroup(p, o));
            }
            for (int i = 0; i < SHAPES.length; i++) {   // LibTorch merges options equal to the defaults: set again
                SGDOptions o = new SGDOptions(reference.param_groups().get(i).options());
                o.set_lr(lrs[i]);
                o.momentum().put(0.9);
                o.weight_decay().put(wds[i]);
            }
        }

        /** Same random gradients for both (a parameter without a gradient every third step is skipped by both). */
        void backward(int step) {
            manual_seed(100 + step);
            sgd.zeroGrad();
            reference.zero_grad();
            for (int i = 0; i < SHAPES.length; i++) {
                if ((step + i) % 3 == 2) continue;
                Tensor w = randn(SHAPES[i]).mul(new org.bytedeco.pytorch.Scalar(10.0 / (step + 1)));
                ours.get(i).mul(w).sum().backward();
                theirs.get(i).mul(w).sum().backward();
            }
        }

        void assertSame(String when) {
            for (int i = 0; i < SHAPES.length; i++) {
                assertBitsEqual(ours.get(i), theirs.get(i), names.get(i) + ", " + when);
            }
        }
    }

    @Test
    void stepsAreLibTorchsSgdBitForBit() {
        for (boolean nonContiguous : new boolean[]{false, true}) {
            try (PointerScope s = new PointerScope()) {
                Pair p = new Pair(nonContiguous);
                for (int step = 0; step < 6; step++) {
                    p.backward(step);
                    p.sgd.step();
                    p.reference.step();
                    p.assertSame("step " + step + (nonContiguous ? " (non-contiguous)" : ""));
                }
                // the lr decay of the recipe
                for (int g = 0; g < p.sgd.groupCount(); g++) {
                    p.sgd.setLr(g, p.sgd.lr(g) * 0.1);
                    p.reference.param_groups().get(g).options().set_lr(p.lrs[g] * 0.1);
                }
                p.backward(6);
                p.sgd.step();
                p.reference.step();
                p.assertSame("after the decay");
            }
        }
    }

    @Test
    void stateTravelsBothWaysThroughLibTorchsArchive(@TempDir Path dir) throws Exception {
        try (PointerScope s = new PointerScope()) {
            Pair p = new Pair(false);
            for (int step = 0; step < 3; step++) {
                p.backward(step);
                p.sgd.step();
                p.reference.step();
            }
            // LibTorch's archive (a checkpoint from before MomentumSgd) into a fresh MomentumSgd, ours into a fresh SGD
            Path theirsFile = dir.resolve("theirs.pt"), oursFile = dir.resolve("ours.pt");
            OutputArchive oa = new OutputArchive();
            p.reference.save(oa);
            oa.save_to(theirsFile.toString());
            Files.write(oursFile, p.sgd.saveState());

            Pair q = new Pair(false);
            copyParams(p, q);
            q.sgd.loadState(Files.readAllBytes(theirsFile), theirsFile);
            InputArchive ia = new InputArchive();
            ia.load_from(oursFile.toString());
            q.reference.load(ia);
            for (int g = 0; g < q.sgd.groupCount(); g++) assertThat(q.sgd.lr(g)).isEqualTo(p.lrs[g]);
            for (int step = 3; step < 6; step++) {
                p.backward(step);
                p.sgd.step();
                p.reference.step();
                q.backward(step);
                q.sgd.step();
                q.reference.step();
            }
            for (int i = 0; i < SHAPES.length; i++) {
                assertBitsEqual(q.ours.get(i), p.ours.get(i), "ours from LibTorch's state, " + p.names.get(i));
                assertBitsEqual(q.theirs.get(i), p.ours.get(i), "LibTorch's from our state, " + p.names.get(i));
            }
        }
    }

    /** Bit-for-bit equality with a short message (the first difference and the count) for large tensors. */
    static void assertBitsEqual(Tensor actual, Tensor expected, String what) {
        float[] a = Tensors.toFloatArray(actual.detach().contiguous()), e = Tensors.toFloatArray(expected.detach().contiguous());
        assertThat(a.length).as(what).isEqualTo(e.length);
        int first = -1, count = 0;
        for (int k = 0; k < a.length; k++) {
            if (Float.floatToRawIntBits(a[k]) != Float.floatToRawIntBits(e[k])) {
                if (first < 0) first = k;
                count++;
            }
        }
        final int f = first;
        assertThat(count).as("%s: %d of %d values differ, the first at %d: %s vs %s", what, count, a.length, f,
                f < 0 ? "" : a[f], f < 0 ? "" : e[f]).isZero();
    }

    private static void copyParams(Pair from, Pair to) {
        try (NoGradGuard g = new NoGradGuard()) {
            for (int i = 0; i < SHAPES.length; i++) {
                to.ours.get(i).copy_(from.ours.get(i));
                to.theirs.get(i).copy_(from.theirs.get(i));
            }
        }
    }

    @Test
    void aStateOfAnotherModelIsRejectedNamingTheFile(@TempDir Path dir) throws Exception {
        try (PointerScope s = new PointerScope()) {
            Pair p = new Pair(false);
            p.backward(0);
            p.sgd.step();
            byte[] state = p.sgd.saveState();
            Tensor one = randn(4).requires_grad_(true);
            MomentumSgd other = new MomentumSgd(List.of("w"), List.of(one), new double[]{LR}, new double[]{WD}, 0.9);
            Path f = dir.resolve("last.ckpt");
            assertThatThrownBy(() -> other.loadState(state, f)).isInstanceOf(WeightsFormatException.class)
                    .hasMessageContaining("last.ckpt").hasMessageContaining("5 parameter groups, the model 1");
            assertThatThrownBy(() -> other.loadState(new byte[]{1, 2, 3}, f)).isInstanceOf(WeightsFormatException.class)
                    .hasMessageContaining("last.ckpt");
            // a failed load leaves the state as it was
            assertThat(p.sgd.momentumBuffer(0)).isNotNull();
        }
    }

    @Test
    void theStepChecksItsArguments() {
        try (PointerScope s = new PointerScope()) {
            Tensor p = randn(3), g = randn(4), b = randn(3);
            assertThatThrownBy(() -> SgdStep.step(p, g, b, LR, WD, 0.9, false))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("differ in shape");
            assertThatThrownBy(() -> SgdStep.step(p, randn(3), b, Double.NaN, WD, 0.9, false))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must be finite");
            assertThatThrownBy(() -> SgdStep.step(p, randn(3).to(org.bytedeco.pytorch.global.torch.ScalarType.Double), b,
                    LR, WD, 0.9, false)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dtype");
        }
    }
}
