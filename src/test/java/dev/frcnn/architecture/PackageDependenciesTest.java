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
 * The package structure of {@code target/classes} as the JDK's {@code jdeps -verbose:package} reports it, and of the
 * sources' import lines (which also hold the imports that only Javadoc uses, invisible in class files): no cycle
 * among {@code dev.frcnn.*} packages (no strongly connected set of two or more), and the layers below the assembly
 * never import the layers above them (docs/architecture.md, "Layers").
 */
class PackageDependenciesTest {
    private static final Pattern EDGE = Pattern.compile("^\\s+(dev\\.frcnn[\\w.]*)\\s+->\\s+(dev\\.frcnn[\\w.]*)\\s");
    private static final Pattern IMPORT = Pattern.compile("^import (?:static )?(dev\\.frcnn(?:\\.[a-z]\\w*)*)\\.[A-Z]", Pattern.MULTILINE);
    private static final Pattern PACKAGE = Pattern.compile("^package ([\\w.]+);", Pattern.MULTILINE);
    private static Map<String, Set<String>> graph;
    private static Map<String, Set<String>> sourceGraph;

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
        sourceGraph = sourceImports(Path.of("src/main/java"));
        assertThat(sourceGraph).as("imports of src/main/java").containsKeys("dev.frcnn.model", "dev.frcnn.config");
    }

    /** Package to imported packages, from the import lines of every source file under {@code root}. */
    static Map<String, Set<String>> sourceImports(Path root) {
        Map<String, Set<String>> g = new TreeMap<>();
        try (var files = Files.walk(root)) {
            for (Path f : files.filter(x -> x.toString().endsWith(".java")).toList()) {
                String src = Files.readString(f);
                Matcher pm = PACKAGE.matcher(src);
                if (!pm.find()) continue;
                String from = pm.group(1);
                Set<String> tos = g.computeIfAbsent(from, k -> new TreeSet<>());
                Matcher im = IMPORT.matcher(src);
                while (im.find()) if (!im.group(1).equals(from)) tos.add(im.group(1));
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return g;
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
        assertThat(cycles(graph)).as("strongly connected sets of dev.frcnn packages (jdeps)").isEmpty();
    }

    @Test
    void thereIsNoPackageCycleInTheImportLines() {
        assertThat(cycles(sourceGraph)).as("strongly connected sets of dev.frcnn packages (import lines)").isEmpty();
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

    /** {@code dev.frcnn.error} (the base type of the user's errors) is thrown from every layer, so it imports none. */
    @Test
    void theErrorPackageIsALeaf() {
        assertThat(graph).as("packages that use dev.frcnn.error (jdeps)").containsKey("dev.frcnn.error");
        assertThat(graph.get("dev.frcnn.error")).as("dev.frcnn.error's imports (jdeps)").isEmpty();
        assertThat(sourceGraph.getOrDefault("dev.frcnn.error", Set.of())).as("dev.frcnn.error's import lines").isEmpty();
    }

    @Test
    void modelDataIoOpsTensorAndDistNeverImportConfigOrTheLayersAbove() {
        List<String> lower = List.of("dev.frcnn.model", "dev.frcnn.data", "dev.frcnn.io", "dev.frcnn.ops",
                "dev.frcnn.tensor", "dev.frcnn.dist");
        List<String> upper = List.of("dev.frcnn.config", "dev.frcnn.assembly", "dev.frcnn.train", "dev.frcnn.eval",
                "dev.frcnn.api", "dev.frcnn.cli", "dev.frcnn.bench");
        List<String> violations = new ArrayList<>();
        Map<String, Set<String>> both = new TreeMap<>(graph);
        sourceGraph.forEach((k, v) -> both.merge(k, v, (a, b) -> {
            Set<String> u = new TreeSet<>(a);
            u.addAll(b);
            return u;
        }));
        both.forEach((from, tos) -> {
            if (lower.stream().noneMatch(p -> from.equals(p) || from.startsWith(p + "."))) return;
            for (String to : tos) {
                if (upper.stream().anyMatch(p -> to.equals(p) || to.startsWith(p + "."))) violations.add(from + " -> " + to);
            }
        });
        assertThat(violations).isEmpty();
    }
}
