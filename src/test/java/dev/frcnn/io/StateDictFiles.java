package dev.frcnn.io;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.frcnn.io.TorchFileWriter.floatsLE;

/** Test helper: a zip-format {@code .pth} holding a plain state dict (an OrderedDict) of 1-element float tensors. */
public final class StateDictFiles {
    private StateDictFiles() {}

    /**
     * @param file the file to write
     * @param keys the state dict's keys (values 0, 1, 2, ...)
     * @return {@code file}
     */
    public static Path write(Path file, List<String> keys) throws IOException {
        PickleBuilder p = new PickleBuilder().proto(2).orderedDict().mark();
        Map<String, byte[]> storages = new LinkedHashMap<>();
        for (int i = 0; i < keys.size(); i++) {
            p.str(keys.get(i)).tensor("FloatStorage", String.valueOf(i), 1, 0, new long[]{1}, new long[]{1}, false);
            storages.put(String.valueOf(i), floatsLE(i));
        }
        p.setitems();
        return TorchFileWriter.writeZip(file, p.stop().toBytes(), storages, "little");
    }

    /**
     * A state dict of float32 tensors as {@code torch.save(state_dict)} writes it (zip format, one storage per
     * tensor, contiguous strides).
     *
     * @param file the file to write
     * @param tensors key to contiguous CPU float32 tensor, in file order
     * @return {@code file}
     */
    public static Path writeTensors(Path file, Map<String, org.bytedeco.pytorch.Tensor> tensors) throws IOException {
        PickleBuilder p = new PickleBuilder().proto(2).orderedDict().mark();
        Map<String, byte[]> storages = new LinkedHashMap<>();
        int i = 0;
        for (Map.Entry<String, org.bytedeco.pytorch.Tensor> e : tensors.entrySet()) {
            org.bytedeco.pytorch.Tensor t = e.getValue().contiguous();
            long[] size = t.sizes().vec().get();
            long[] stride = t.strides().vec().get();
            String key = String.valueOf(i++);
            p.str(e.getKey()).tensor("FloatStorage", key, t.numel(), 0, size, stride, false);
            storages.put(key, floatsLE(dev.frcnn.tensor.Tensors.toFloatArray(t)));
        }
        p.setitems();
        return TorchFileWriter.writeZip(file, p.stop().toBytes(), storages, "little");
    }
}
