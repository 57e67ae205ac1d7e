package dev.frcnn.testing;

import dev.frcnn.tensor.NativeLibraries;
import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;

/**
 * Runs {@link NativeLibraries#ensureExtracted()} when a test JVM's JUnit session opens, before any test class
 * (and so before any {@code org.bytedeco.pytorch} class) is loaded. Registered in
 * {@code META-INF/services/org.junit.platform.launcher.LauncherSessionListener}.
 */
public final class NativeLibrariesSessionListener implements LauncherSessionListener {
    @Override
    public void launcherSessionOpened(LauncherSession session) {
        NativeLibraries.ensureExtracted();
    }
}
