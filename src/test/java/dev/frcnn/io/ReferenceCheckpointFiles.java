package dev.frcnn.io;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.Module;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Test helper: writes a module's parameters as the reference's trained checkpoint, {@code torch.save({'model': state_dict})}. */
public final class ReferenceCheckpointFiles {
    private ReferenceCheckpointFiles() {}

    /**
     * @param file the zip-format .pth to write
     * @param module float32 CPU parameters, written in named_parameters order
     * @return {@code file}
     */
    public static Path write(Path file, Module module) throws IOException {
        PickleBuilder p = new PickleBuilder().proto(2).emptyDict().str("model").orderedDict().mark();
        Map<String, byte[]> storages = new LinkedHashMap<>();
        StringTensorDict params = module.named_parameters(true);
        for (long i = 0; i < params.size(); i++) {
            String key = params.get(i).key().getString();
            Tensor t = params.get(i).value().detach().contiguous();
            long[] shape = t.sizes().vec().get();
            long[] stride = new long[shape.length];
            for (int d = shape.length - 1, s = 1; d >= 0; s *= (int) shape[d], d--) stride[d] = s;
            p.str(key).tensor("FloatStorage", String.valueOf(i), t.numel(), 0, shape, stride, false);
            byte[] bytes = new byte[(int) (t.numel() * 4)];
            new BytePointer(t.data_ptr()).capacity(bytes.length).get(bytes);
            storages.put(String.valueOf(i), bytes);
        }
        p.setitems().setitem();
        return TorchFileWriter.writeZip(file, p.stop().toBytes(), storages, "little");
    }
}
