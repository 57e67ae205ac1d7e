package dev.frcnn.io;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * Coverage-guided fuzzing (Jazzer) of the allowlisted unpickler on its own (no persistent ids, as for the legacy
 * header pickles). Property: every input either loads or raises {@link WeightsFormatException}; nothing else.
 * Seeds: pickles with dicts, lists, tuples, sets, strings, bytes, big and small ints, floats, memo use and an
 * allowlisted global. See {@code docs/fuzzing.md}.
 */
class RestrictedUnpicklerFuzzTest {
    private static final Path NAME = Path.of("fuzz.pkl");

    @MethodSource("seeds")
    @FuzzTest(maxDuration = "5s")
    void unpickle(byte[] data) throws IOException {
        try {
            new RestrictedUnpickler(new BoundedInput(new ByteArrayInputStream(data), data.length, NAME, "pickle"), null)
                    .load();
        } catch (WeightsFormatException expected) {
            // the project's typed error: fine
        }
    }

    static Stream<Arguments> seeds() {
        byte[] dict = new PickleBuilder().proto(2).orderedDict().mark()
                .str("a").integer(1).str("b").floating(2.5).str("c").bigInteger(new BigInteger("123456789012345678901234567890"))
                .str("d").emptyList().mark().integer(1).integer(-70000).appends()
                .str("e").ints(3, 4, 5).str("f").bytes(new byte[]{1, 2, 3}).str("g").none().str("h").bool(true)
                .setitems().stop().toBytes();
        byte[] set = new PickleBuilder().proto(2).global("builtins", "set").mark().emptyList().mark().str("x").str("y")
                .appends().tuple().reduce().stop().toBytes();
        byte[] protocol4 = new PickleBuilder().proto(4).emptyDict().mark().str("k").stackGlobal("torch", "Size")
                .mark().ints(2, 3).tuple().reduce().setitems().stop().toBytes();
        return Stream.of(Arguments.of((Object) dict), Arguments.of((Object) set), Arguments.of((Object) protocol4));
    }
}
