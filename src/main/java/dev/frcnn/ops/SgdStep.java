package dev.frcnn.ops;

import dev.frcnn.ops.nativeops.NativeOps;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * One step of SGD with momentum for one parameter: the body of LibTorch's {@code torch::optim::SGD::step} (and of
 * {@code torch.optim.SGD} with {@code dampening=0, nesterov=False}) for one tensor:
 * <pre>
 *   d_p = grad + weight_decay * param            (skipped when weight_decay == 0)
 *   buf = d_p                                    on the parameter's first step, else buf = buf * momentum + d_p
 *   param -= lr * buf
 * </pre>
 * On the CPU, for contiguous float32 tensors, it runs as one native pass ({@code frcnn_sgd_step_cpu}) instead of
 * LibTorch's four (and a temporary the size of the parameter), with LibTorch's roundings, so the result is bit for
 * bit LibTorch's. Elsewhere (CUDA, other dtypes or layouts) it runs LibTorch's own sequence of tensor ops.
 */
public final class SgdStep {
    private SgdStep() {}

    /**
     * Updates {@code param} and {@code buffer} in place. Runs without autograd.
     *
     * @param param the parameter, any shape
     * @param grad its gradient, same shape, dtype and device
     * @param buffer the momentum buffer, same shape, dtype and device; its contents are ignored (overwritten with
     *     {@code d_p}) when {@code firstStep}
     * @param lr learning rate (finite)
     * @param weightDecay L2 weight decay (finite; 0 for none)
     * @param momentum momentum factor (finite)
     * @param firstStep whether the buffer has not been started yet (LibTorch's {@code buf = clone(d_p)})
     * @throws IllegalArgumentException for undefined tensors, differing shapes, dtypes or devices, or non-finite
     *     hyperparameters
     */
    public static void step(Tensor param, Tensor grad, Tensor buffer, double lr, double weightDecay, double momentum,
                            boolean firstStep) {
        OpSupport.requireDefined(param, "param");
        OpSupport.requireDefined(grad, "grad");
        OpSupport.requireDefined(buffer, "buffer");
        if (!Double.isFinite(lr) || !Double.isFinite(weightDecay) || !Double.isFinite(momentum)) {
            throw new IllegalArgumentException("lr " + lr + ", weight decay " + weightDecay + " and momentum "
                    + momentum + " must be finite");
        }
        if (!java.util.Arrays.equals(Tensors.shape(param), Tensors.shape(grad))
                || !java.util.Arrays.equals(Tensors.shape(param), Tensors.shape(buffer))) {
            throw new IllegalArgumentException("param " + Tensors.shapeString(param) + ", grad "
                    + Tensors.shapeString(grad) + " and buffer " + Tensors.shapeString(buffer) + " differ in shape");
        }
        OpSupport.requireSameDevice(param, "param", grad, "grad");
        OpSupport.requireSameDevice(param, "param", buffer, "buffer");
        String type = Tensors.typeName(param);
        boolean sameType = type.equals(Tensors.typeName(grad)) && type.equals(Tensors.typeName(buffer));
        if (!sameType) {
            throw new IllegalArgumentException("param " + type + ", grad " + Tensors.typeName(grad)
                    + " and buffer " + Tensors.typeName(buffer) + " differ in dtype");
        }
        try (NoGradGuard g = new NoGradGuard()) {
            if (!param.is_cuda() && Tensors.isType(param, ScalarType.Float) && param.is_contiguous()
                    && grad.is_contiguous() && buffer.is_contiguous()) {
                NativeOps.get().sgdStepCpu(OpSupport.seg(param), OpSupport.seg(grad), OpSupport.seg(buffer),
                        param.numel(), lr, weightDecay, momentum, firstStep);
                return;
            }
            // LibTorch's SGD::step, op for op
            Tensor dp = weightDecay != 0 ? grad.add(param, new Scalar(weightDecay)) : grad;
            if (firstStep) buffer.copy_(dp);
            else buffer.mul_(new Scalar(momentum)).add_(dp, new Scalar(1.0));
            param.add_(buffer, new Scalar(-1 * lr));
        }
    }
}
