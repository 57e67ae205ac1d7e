package dev.frcnn.ops.nativeops;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;

/**
 * The current LibTorch CUDA stream of a device, as a raw {@code cudaStream_t} address.
 *
 * <p>Isolated in its own class, and reached only through reflection, because
 * {@code org.bytedeco.pytorch.global.torch_cuda} fails to initialise with the CPU-only PyTorch jars and its
 * {@code CUDAStream.stream()} returns a type of the optional {@code org.bytedeco:cuda} jar. It is used only for
 * CUDA tensors.
 */
public final class CudaStreams {
    private CudaStreams() {}

    /**
     * {@code c10::cuda::getCurrentCUDAStream(deviceIndex).stream()} as an address (0 would mean the legacy default
     * stream).
     *
     * @throws UnsupportedOperationException if the CUDA build of the PyTorch presets is not on the classpath
     */
    public static long currentStream(int deviceIndex) {
        try (PointerScope scope = new PointerScope()) {
            Class<?> tc = Class.forName("org.bytedeco.pytorch.global.torch_cuda");
            Object stream = tc.getMethod("getCurrentCUDAStream", byte.class).invoke(null, (byte) deviceIndex);
            Method raw = stream.getClass().getMethod("stream");
            Object handle = raw.invoke(stream);
            return handle == null ? 0L : ((Pointer) handle).address();
        } catch (InvocationTargetException e) {
            throw new UnsupportedOperationException("cannot get the current CUDA stream of device " + deviceIndex
                    + ": " + e.getCause(), e.getCause());
        } catch (ReflectiveOperationException | LinkageError e) {
            throw new UnsupportedOperationException("cannot get the current CUDA stream of device " + deviceIndex
                    + " (the CUDA build of the PyTorch presets and org.bytedeco:cuda must be on the classpath): " + e,
                    e);
        }
    }
}
