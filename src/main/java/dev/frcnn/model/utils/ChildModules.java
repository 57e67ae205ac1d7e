package dev.frcnn.model.utils;

import org.bytedeco.pytorch.Module;

import java.util.ArrayList;
import java.util.List;

/**
 * Strong references to the modules a module builds and registers as children. JavaCPP frees a module's native object
 * when its Java wrapper is garbage-collected, even while a parent module still holds the child, so every module that
 * registers children it does not keep in fields keeps them here (one per owning module, held in a field).
 */
public final class ChildModules {
    private final List<Module> kept = new ArrayList<>();

    /**
     * Keeps {@code m} alive as long as this holder.
     *
     * @param m a module
     * @return {@code m}
     */
    public <M extends Module> M keep(M m) {
        kept.add(m);
        return m;
    }

    /**
     * A kept module that only holds children: torchvision's {@code ModuleList}, {@code Sequential} or
     * {@code Conv2dNormActivation}, whose registered names make the state_dict keys ({@code inner_blocks.0.0.weight}).
     *
     * @param name the module's type name (for its printing only)
     * @return the new, empty module
     */
    public Module container(String name) {
        return keep(new Container(name));
    }

    /** The module type of {@link #container}. */
    private static final class Container extends Module {
        Container(String name) {
            super(name);
        }
    }
}
