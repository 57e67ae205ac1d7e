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
}
