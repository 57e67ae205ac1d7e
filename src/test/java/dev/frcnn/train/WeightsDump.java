package dev.frcnn.train;

import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.StringTensorDict;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** A model's parameters as a plain file for the tests' comparisons: per parameter, its name and float32 values. */
final class WeightsDump {
    private WeightsDump() {}

    static void write(org.bytedeco.pytorch.Module model, Path file) throws IOException {
        try (PointerScope s = new PointerScope();
             DataOutputStream out = new DataOutputStream(Files.newOutputStream(file))) {
            StringTensorDict p = model.named_parameters(true);
            out.writeInt((int) p.size());
            for (long i = 0; i < p.size(); i++) {
                out.writeUTF(p.get(i).key().getString());
                float[] v = Tensors.toFloatArray(p.get(i).value().detach().contiguous());
                out.writeInt(v.length);
                for (float x : v) out.writeFloat(x);
            }
        }
    }

    static Map<String, float[]> of(org.bytedeco.pytorch.Module model) {
        Map<String, float[]> m = new LinkedHashMap<>();
        try (PointerScope s = new PointerScope()) {
            StringTensorDict p = model.named_parameters(true);
            for (long i = 0; i < p.size(); i++)
                m.put(p.get(i).key().getString(), Tensors.toFloatArray(p.get(i).value().detach().contiguous()));
        }
        return m;
    }

    static Map<String, float[]> read(Path file) throws IOException {
        Map<String, float[]> m = new LinkedHashMap<>();
        try (DataInputStream in = new DataInputStream(Files.newInputStream(file))) {
            int n = in.readInt();
            for (int i = 0; i < n; i++) {
                String name = in.readUTF();
                float[] v = new float[in.readInt()];
                for (int k = 0; k < v.length; k++) v[k] = in.readFloat();
                m.put(name, v);
            }
        }
        return m;
    }
}
