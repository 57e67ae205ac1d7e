package dev.frcnn.io;

import com.fasterxml.jackson.databind.JsonNode;
import dev.frcnn.model.backbone.Backbones;
import dev.frcnn.tensor.Tensors;
import dev.frcnn.testing.Golden;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.bytedeco.pytorch.global.torch.empty;
import static org.bytedeco.pytorch.global.torch.zeros;

/**
 * Key lists of torchvision models ({@code vgg16_keys.json}, {@code resnet_keys.json}): the VGG16 to
 * reference key mapping reproduces the fixture's mapping, and {@link WeightLoader} accepts state dicts with the
 * fixture's keys, shapes and dtypes (BN buffers and int64 {@code num_batches_tracked} included) into a module
 * tree of the same structure.
 */
class ModelKeysParityTest {
    /** "features.<i> -> extractor.<i> for i < 30" */
    private static final Pattern INDEXED = Pattern.compile("(\\S+)\\.<i> -> (\\S+)\\.<i> for i < (\\d+)");
    /** "classifier.0 -> head.classifier.0" */
    private static final Pattern PLAIN = Pattern.compile("(\\S+) -> (\\S+)");

    private record Entry(String key, long[] shape, String dtype) {}

    private static List<Entry> entries(JsonNode list) {
        List<Entry> r = new ArrayList<>();
        for (JsonNode e : list) {
            JsonNode s = e.path("shape");
            long[] shape = new long[s.size()];
            for (int i = 0; i < shape.length; i++) shape[i] = s.get(i).asLong();
            r.add(new Entry(e.path("key").asText(), shape, e.path("dtype").asText()));
        }
        return r;
    }

    /** The fixture's mapping rules applied to one key; empty = dropped (no rule matches). */
    private static Optional<String> expectedMapping(JsonNode rules, String key) {
        for (JsonNode rule : rules) {
            String text = rule.asText();
            Matcher m = INDEXED.matcher(text);
            if (m.matches()) {
                String prefix = m.group(1) + ".";
                if (key.startsWith(prefix)) {
                    String rest = key.substring(prefix.length());
                    int dot = rest.indexOf('.');
                    long i = Long.parseLong(rest.substring(0, dot));
                    if (i < Long.parseLong(m.group(3))) return Optional.of(m.group(2) + "." + rest);
                }
                continue;
            }
            m = PLAIN.matcher(text);
            assertThat(m.matches()).as("understood mapping rule '" + text + "'").isTrue();
            if (key.startsWith(m.group(1) + ".")) return Optional.of(m.group(2) + key.substring(m.group(1).length()));
        }
        return Optional.empty();
    }

    @Test
    void vgg16MappingReproducesFixture() {
        Golden g = Golden.load("vgg16_keys.json");
        JsonNode rules = g.params().path("reference_mapping");
        assertThat(rules.size()).isPositive();
        List<Entry> keys = entries(g.params().path("models").path("vgg16"));
        assertThat(keys).isNotEmpty();

        Map<String, String> expected = new LinkedHashMap<>();
        for (Entry e : keys) {
            Optional<String> want = expectedMapping(rules, e.key());
            assertThat(StateDicts.vgg16KeyToReference(e.key())).as(e.key()).isEqualTo(want);
            want.ifPresent(w -> expected.put(w, e.key()));
        }
        assertThat(expected.size()).as("some keys are dropped (the last classifier layer)").isLessThan(keys.size());

        try (PointerScope s = new PointerScope()) {
            Tensor placeholder = zeros(new long[0], new TensorOptions(ScalarType.Float));
            Map<String, Tensor> tv = new LinkedHashMap<>();
            for (Entry e : keys) tv.put(e.key(), placeholder.expand(e.shape()));
            Map<String, Tensor> ref = Backbones.get("vgg16").toModel(tv, "vgg16.pth");
            assertThat(new ArrayList<>(ref.keySet())).containsExactlyElementsOf(expected.keySet());
            for (Map.Entry<String, Tensor> e : ref.entrySet()) {
                assertThat(e.getValue()).as(e.getKey()).isSameAs(tv.get(expected.get(e.getKey())));
            }
        }
    }

    @Test
    void vgg16MappingRejectsOtherModels() {
        Golden g = Golden.load("resnet_keys.json");
        String firstResnetModel = g.params().path("models").fieldNames().next();
        List<Entry> keys = entries(g.params().path("models").path(firstResnetModel));
        try (PointerScope s = new PointerScope()) {
            Tensor placeholder = zeros(new long[]{1}, new TensorOptions(ScalarType.Float));
            Map<String, Tensor> sd = new LinkedHashMap<>();
            for (Entry e : keys) sd.put(e.key(), placeholder);
            assertThatThrownBy(() -> Backbones.get("vgg16").toModel(sd, "resnet.pth"))
                    .isInstanceOf(WeightsMismatchException.class)
                    .hasMessageContaining(keys.get(0).key());
        }
    }

    /** A module tree registering each fixture key as a parameter, or a buffer for BN running statistics. */
    private static Module skeleton(List<Entry> keys) {
        Module root = new Module("Skeleton");
        Map<String, Module> modules = new HashMap<>();
        modules.put("", root);
        for (Entry e : keys) {
            int last = e.key().lastIndexOf('.');
            String path = last < 0 ? "" : e.key().substring(0, last);
            String leaf = e.key().substring(last + 1);
            Module parent = module(modules, path);
            Tensor t = empty(e.shape(), new TensorOptions(scalarType(e.dtype())), null);
            if (leaf.equals("running_mean") || leaf.equals("running_var") || leaf.equals("num_batches_tracked")) {
                parent.register_buffer(leaf, t);
            } else {
                parent.register_parameter(leaf, t);
            }
        }
        return root;
    }

    private static Module module(Map<String, Module> modules, String path) {
        Module m = modules.get(path);
        if (m != null) return m;
        int dot = path.lastIndexOf('.');
        Module parent = module(modules, dot < 0 ? "" : path.substring(0, dot));
        m = parent.register_module(path.substring(dot + 1), new Module());
        modules.put(path, m);
        return m;
    }

    private static ScalarType scalarType(String dtype) {
        return switch (dtype) {
            case "float32" -> ScalarType.Float;
            case "float64" -> ScalarType.Double;
            case "int64" -> ScalarType.Long;
            default -> throw new AssertionError("dtype " + dtype);
        };
    }

    @Test
    void loaderAcceptsTorchvisionResnetKeysShapesAndDtypes() {
        Golden g = Golden.load("resnet_keys.json");
        List<String> models = new ArrayList<>();
        g.params().path("models").fieldNames().forEachRemaining(models::add);
        assertThat(models).isNotEmpty();
        for (String model : models) {
            List<Entry> keys = entries(g.params().path("models").path(model));
            try (PointerScope s = new PointerScope()) {
                Module m = skeleton(keys);
                Set<String> moduleKeys = new LinkedHashSet<>();
                StringTensorDict p = m.named_parameters(true), b = m.named_buffers(true);
                for (long i = 0; i < p.size(); i++) moduleKeys.add(p.get(i).key().getString());
                for (long i = 0; i < b.size(); i++) moduleKeys.add(b.get(i).key().getString());
                List<String> fixtureKeys = keys.stream().map(Entry::key).toList();
                assertThat(moduleKeys).as(model + " skeleton keys").containsExactlyInAnyOrderElementsOf(fixtureKeys);

                // a state dict with the fixture's keys, shapes and dtypes (broadcast views, no big allocations)
                Map<String, Tensor> sd = new LinkedHashMap<>();
                for (Entry e : keys) {
                    Tensor v = zeros(new long[0], new TensorOptions(scalarType(e.dtype())));
                    v.fill_(new Scalar(e.dtype().equals("int64") ? 7.0 : 0.5));
                    sd.put(e.key(), v.expand(e.shape()));
                }
                WeightLoader.LoadResult r = WeightLoader.load(m, sd, true);
                assertThat(r.missingKeys()).isEmpty();
                assertThat(r.unexpectedKeys()).isEmpty();
                for (Entry e : List.of(keys.get(0), keys.get(keys.size() - 1))) {
                    Tensor t = p.contains(e.key()) ? p.get(e.key()) : b.get(e.key());
                    assertThat(Tensors.shape(t)).containsExactly(e.shape());
                    assertThat(Tensors.toDoubleArray(t.flatten(0, -1).narrow(0, 0, 1)))
                            .containsExactly(e.dtype().equals("int64") ? 7.0 : 0.5);
                }
                Entry nbt = keys.stream().filter(e -> e.dtype().equals("int64")).findFirst().orElseThrow();
                assertThat(nbt.shape()).isEmpty();
                assertThat(Tensors.toLongArray(b.get(nbt.key()))).containsExactly(7L);
            }
        }
    }
}
