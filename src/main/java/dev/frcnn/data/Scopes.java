package dev.frcnn.data;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;

/** Package helper: lets a method free its temporaries in its own {@link PointerScope} and return one result. */
final class Scopes {
    private Scopes() {}

    /**
     * Hands a result over to the caller. Call {@code p.retainReference()} inside the inner scope, close
     * it, then call this with the scope that was current before the inner one was opened: the result is
     * attached to that scope (so it is freed with the caller's other tensors), or, if there was none, left
     * with one reference for the garbage collector (or an explicit {@code close()}).
     */
    static <P extends Pointer> P handOver(P p, PointerScope outer) {
        if (outer != null) {
            outer.attach(p);
            p.releaseReference();
        }
        return p;
    }
}
