package dev.frcnn.cli;

import java.nio.file.Path;

/** Default locations, relative to the project root that {@code bin/frcnn} passes as {@code -Dfrcnn.home}. */
final class Paths {
    private Paths() {}

    static Path home() {
        return Path.of(System.getProperty("frcnn.home", ".")).toAbsolutePath().normalize();
    }

    /** {@code ../shared} beside the project. */
    static Path shared() {
        return home().resolveSibling("shared");
    }

    /** The golden fixture directory ({@code -Dfrcnn.golden.dir}, default {@code ../shared/golden}). */
    static Path golden() {
        String p = System.getProperty("frcnn.golden.dir");
        return p != null ? Path.of(p) : shared().resolve("golden");
    }
}
