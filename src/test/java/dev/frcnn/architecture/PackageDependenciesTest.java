package dev.frcnn.architecture;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.spi.ToolProvider;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The package structure of {@code target/classes} as the JDK's {@code jdeps -verbose:package} reports it: no cycle
 * among {@code dev.frcnn.*} packages (no strongly connected set of two or more), and the layers below the assembly
 * never import the layers above them (docs/architecture.md, "Layers").
 */
class PackageDependenciesTest {
    private static final Pattern EDGE = Pattern.compile("^\\s+(dev\\.frcnn[\\w.]*)\\s+->\\s+(dev\\.frcnn[\\w.]*)\\s");
    private static Map<String, Set<String>> graph;

    @BeforeAll
    static void readDependencies() {
        Path classes = Path.of("target/classes");
        assertThat(Files.isDirectory(classes.resolve("dev/frcnn"))).as("compiled classes in " + classes).isTrue();
        ToolProvider jdeps = ToolProvider.findFirst("jdeps").orElseThrow(() -> new AssertionError("no jdeps in this JDK"));
        StringWriter out = new StringWriter(), err = new StringWriter();
        int rc = jdeps.run(new PrintWriter(out), new PrintWriter(err), "-verbose:package", classes.toString());
        assertThat(rc).as("jdeps: " + err).isZero();
        graph = parse(out.toString());
        assertThat(graph).as("jdeps found our packages").containsKeys("dev.frcnn.model", "dev.frcnn.config");
    }

    static Map<String, Set<String>> parse(String jdepsOutput) {
        Map<String, Set<String>> g = new TreeMap<>();
        for (String line : jdepsOutput.split("\n")) {
            Matcher m = EDGE.matcher(line);
            if (!m.find()) continue;
            String from = m.group(1), to = m.group(2);
            g.computeIfAbsent(from, k -> new TreeSet<>());
            g.computeIfAbsent(to, k -> new TreeSet<>());
            if (!from.equals(to)) g.get(from).add(to);
        }
        return g;
    }

    /** Tarjan's algorithm: the strongly connected sets of two or more packages. */
    static List<Set<String>> cycles(Map<String, Set<String>> g) {
        Map<String, Integer> index = new HashMap<>(), low = new HashMap<>();
        Deque<String> stack = new ArrayDeque<>();
        Set<String> onStack = new TreeSet<>();
        List<Set<String>> out = new ArrayList<>();
        int[] counter = {0};
        for (String v : g.keySet()) if (!index.containsKey(v)) connect(v, g, index, low, stack, onStack, out, counter);
        return out;
    }

    private static void connect(String v, Map<String, Set<String>> g, Map<String, Integer> index,
                                Map<String, Integer> low, Deque<String> stack, Set<String> onStack,
                                List<Set<String>> out, int[] counter) {
        index.put(v, counter[0]);
        low.put(v, counter[0]++);
        stack.push(v);
        onStack.add(v);
        for (String w : g.getOrDefault(v, Set.of())) {
            if (!index.containsKey(w)) {
                connect(w, g, index, low, stack, onStack, out, counter);
                low.put(v, Math.min(low.get(v), low.get(w)));
            } else if (onStack.contains(w)) {
                low.put(v, Math.min(low.get(v), index.get(w)));
            }
        }
        if (low.get(v).equals(index.get(v))) {
            Set<String> component = new TreeSet<>();
            String w;
            do {
                w = stack.pop();
                onStack.remove(w);
                component.add(w);
            } while (!w.equals(v));
            if (component.size() > 1) out.add(component);
        }
    }

    @Test
    void thereIsNoPackageCycle() {
        assertThat(cycles(graph)).as("strongly connected sets of dev.frcnn packages").isEmpty();
    }

    @Test
    void theCycleFinderFindsACycle() {
        Map<String, Set<String>> g = parse("""
                   dev.frcnn.a                                        -> dev.frcnn.b                                        classes
                   dev.frcnn.b                                        -> dev.frcnn.c                                        classes
                   dev.frcnn.c                                        -> dev.frcnn.a                                        classes
                   dev.frcnn.c                                        -> dev.frcnn.d                                        classes
                """);
        assertThat(cycles(g)).containsExactly(Set.of("dev.frcnn.a", "dev.frcnn.b", "dev.frcnn.c"));
    }

    @Test
    void modelDataIoOpsAndTensorNeverImportConfigOrTheLayersAbove() {
        List<String> lower = List.of("dev.frcnn.model", "dev.frcnn.data", "dev.frcnn.io", "dev.frcnn.ops",
                "dev.frcnn.tensor");
        List<String> upper = List.of("dev.frcnn.config", "dev.frcnn.assembly", "dev.frcnn.train", "dev.frcnn.eval",
                "dev.frcnn.api", "dev.frcnn.cli", "dev.frcnn.bench");
        List<String> violations = new ArrayList<>();
        graph.forEach((from, tos) -> {
            if (lower.stream().noneMatch(p -> from.equals(p) || from.startsWith(p + "."))) return;
            for (String to : tos) {
                if (upper.stream().anyMatch(p -> to.equals(p) || to.startsWith(p + "."))) violations.add(from + " -> " + to);
            }
        });
        assertThat(violations).isEmpty();
    }
}
