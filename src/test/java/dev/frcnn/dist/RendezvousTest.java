package dev.frcnn.dist;

import dev.frcnn.error.UserInputException;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link Rendezvous#fromEnvironment(Map)}: torchrun's variables, their checks and their messages. */
class RendezvousTest {
    private static Map<String, String> torchrun(String rank, String localRank) {
        Map<String, String> env = new HashMap<>(Map.of("MASTER_ADDR", " node0.example ", "MASTER_PORT", "29500",
                "WORLD_SIZE", "4", "RANK", rank, "LOCAL_RANK", localRank, "PATH", "/usr/bin"));
        return env;
    }

    @Test
    void readsTorchrunsVariables() {
        Rendezvous r = Rendezvous.fromEnvironment(torchrun("3", "1"));
        assertThat(r).isEqualTo(new Rendezvous("node0.example", 29500, 4, 3, 1));
        assertThat(r.isDistributed()).isTrue();
        assertThat(r.describe()).isEqualTo("rank 3 of 4");
    }

    @Test
    void withoutTheVariablesOrWithWorldSizeOneAloneItIsOneProcess() {
        Rendezvous none = Rendezvous.fromEnvironment(Map.of("PATH", "/usr/bin", "HOME", "/root"));
        assertThat(none).isEqualTo(new Rendezvous("127.0.0.1", 0, 1, 0, 0));
        assertThat(none.isDistributed()).isFalse();
        assertThat(Rendezvous.fromEnvironment(Map.of("WORLD_SIZE", "1"))).isEqualTo(none);
        // torchrun --nproc-per-node 1 sets all five
        assertThat(Rendezvous.fromEnvironment(Map.of("MASTER_ADDR", "127.0.0.1", "MASTER_PORT", "29500",
                "WORLD_SIZE", "1", "RANK", "0", "LOCAL_RANK", "0")))
                .isEqualTo(new Rendezvous("127.0.0.1", 29500, 1, 0, 0));
    }

    @Test
    void variablesWithoutWorldSizeAreRefused() {
        assertThatThrownBy(() -> Rendezvous.fromEnvironment(Map.of("RANK", "1")))
                .isInstanceOf(UserInputException.class)
                .hasMessage("distributed environment: RANK='1' is set but WORLD_SIZE is not; set WORLD_SIZE (the "
                        + "number of processes) or unset it for one process");
        assertThatThrownBy(() -> Rendezvous.fromEnvironment(Map.of("MASTER_ADDR", "h", "MASTER_PORT", "1")))
                .isInstanceOf(UserInputException.class)
                .hasMessageStartingWith("distributed environment: MASTER_ADDR='h', MASTER_PORT='1' are set but "
                        + "WORLD_SIZE is not");
    }

    @Test
    void everyBadOrMissingVariableIsNamedWithItsValueAndWhatIsExpected() {
        Map<String, String> env = torchrun("4", "-1");
        env.put("MASTER_PORT", "70000");
        env.remove("MASTER_ADDR");
        assertThatThrownBy(() -> Rendezvous.fromEnvironment(env)).isInstanceOf(UserInputException.class)
                .hasMessage("distributed environment: "
                        + "MASTER_ADDR is not set: expected the host name or address of rank 0; "
                        + "MASTER_PORT='70000': expected a TCP port in 1..65535, where rank 0's store listens; "
                        + "RANK='4': expected an integer in 0..3 (WORLD_SIZE=4), the rank of this process; "
                        + "LOCAL_RANK='-1': expected an integer in 0..3 (WORLD_SIZE=4), the rank of this process on "
                        + "its machine");
    }

    @Test
    void aWorldSizeThatIsNotAPositiveIntegerIsNamed() {
        Map<String, String> env = torchrun("0", "0");
        env.put("WORLD_SIZE", "two");
        env.put("MASTER_ADDR", " ");
        env.remove("LOCAL_RANK");
        assertThatThrownBy(() -> Rendezvous.fromEnvironment(env)).isInstanceOf(UserInputException.class)
                .hasMessage("distributed environment: "
                        + "WORLD_SIZE='two': expected an integer >= 1, the number of processes; "
                        + "MASTER_ADDR=' ': expected the host name or address of rank 0; "
                        + "LOCAL_RANK is not set: expected an integer >= 0, the rank of this process on its machine");
        env.put("WORLD_SIZE", "0");
        env.put("LOCAL_RANK", "0");
        env.put("MASTER_ADDR", "h");
        assertThatThrownBy(() -> Rendezvous.fromEnvironment(env)).isInstanceOf(UserInputException.class)
                .hasMessage("distributed environment: WORLD_SIZE='0': expected an integer >= 1, the number of "
                        + "processes");
    }

    @Test
    void theRecordChecksItsRanges() {
        assertThatThrownBy(() -> new Rendezvous("h", 29500, 2, 2, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("rank must be in 0..1, got 2");
        assertThatThrownBy(() -> new Rendezvous("h", 0, 2, 1, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("masterPort must be in 1..65535, got 0");
        assertThatThrownBy(() -> new Rendezvous("", 1, 1, 0, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("masterAddr must not be blank");
    }
}
