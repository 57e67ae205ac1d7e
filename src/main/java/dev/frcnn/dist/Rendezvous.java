package dev.frcnn.dist;

import dev.frcnn.error.UserInputException;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Where this process stands in a data-parallel job, read from the environment as {@code torchrun} sets it
 * (PyTorch's {@code env://} initialisation): the address and port of rank 0's {@code TCPStore}, the number of
 * processes, this process's global rank and its rank on this machine.
 *
 * <p>Without any of the variables the job is one process: {@link #single()}. {@code WORLD_SIZE=1} alone is one
 * process too. With {@code WORLD_SIZE} above 1, all five variables are required.
 *
 * @param masterAddr host name or address of rank 0 ({@code MASTER_ADDR}); {@code 127.0.0.1} for one process
 * @param masterPort TCP port of rank 0's store ({@code MASTER_PORT}), 1..65535; 0 for one process (no store)
 * @param worldSize number of processes ({@code WORLD_SIZE}), at least 1
 * @param rank this process's global rank ({@code RANK}), 0..worldSize-1
 * @param localRank this process's rank on its machine ({@code LOCAL_RANK}), 0..worldSize-1; chooses its GPU
 */
public record Rendezvous(String masterAddr, int masterPort, int worldSize, int rank, int localRank) {
    /** The variables, in the order they are reported. */
    public static final List<String> VARIABLES = List.of("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK",
            "LOCAL_RANK");

    /**
     * @throws IllegalArgumentException if a value is out of its range (see the parameters)
     */
    public Rendezvous {
        if (masterAddr == null || masterAddr.isBlank())
            throw new IllegalArgumentException("masterAddr must not be blank");
        if (worldSize < 1) throw new IllegalArgumentException("worldSize must be >= 1, got " + worldSize);
        if (rank < 0 || rank >= worldSize)
            throw new IllegalArgumentException("rank must be in 0.." + (worldSize - 1) + ", got " + rank);
        if (localRank < 0 || localRank >= worldSize)
            throw new IllegalArgumentException("localRank must be in 0.." + (worldSize - 1) + ", got " + localRank);
        if (worldSize > 1 ? masterPort < 1 || masterPort > 65535 : masterPort < 0 || masterPort > 65535)
            throw new IllegalArgumentException("masterPort must be in " + (worldSize > 1 ? "1" : "0")
                    + "..65535, got " + masterPort);
    }

    /** One process: world size 1, rank 0, no store. */
    public static Rendezvous single() {
        return new Rendezvous("127.0.0.1", 0, 1, 0, 0);
    }

    /**
     * The rendezvous of this process, from {@link System#getenv()}.
     *
     * @throws UserInputException as {@link #fromEnvironment(Map)}
     */
    public static Rendezvous fromEnvironment() {
        return fromEnvironment(System.getenv());
    }

    /**
     * The rendezvous the variables {@link #VARIABLES} of {@code env} describe; other entries are ignored.
     *
     * @param env an environment (variable name to value)
     * @return {@link #single()} when none of the variables is set, or only {@code WORLD_SIZE=1}
     * @throws UserInputException naming every variable that is missing or invalid, its value and what is expected,
     *         in one line (the environment is the user's input: {@code bin/frcnn} exits with 2)
     */
    public static Rendezvous fromEnvironment(Map<String, String> env) {
        if (VARIABLES.stream().noneMatch(env::containsKey)) return single();
        if (!env.containsKey("WORLD_SIZE")) {
            List<String> set = VARIABLES.stream().filter(env::containsKey).map(v -> v + "=" + quoted(env.get(v)))
                    .toList();
            throw new UserInputException("distributed environment: " + String.join(", ", set)
                    + (set.size() == 1 ? " is" : " are") + " set but WORLD_SIZE is not; set WORLD_SIZE (the number "
                    + "of processes) or unset " + (set.size() == 1 ? "it" : "them") + " for one process");
        }
        List<String> problems = new ArrayList<>();
        Integer worldSize = integer(env, "WORLD_SIZE", 1, Integer.MAX_VALUE, "an integer >= 1, the number of processes",
                problems);
        if (worldSize != null && worldSize == 1 && VARIABLES.stream().filter(env::containsKey).count() == 1)
            return single();
        int maxRank = worldSize == null ? Integer.MAX_VALUE : worldSize - 1;
        String range = worldSize == null ? "an integer >= 0"
                : "an integer in 0.." + maxRank + " (WORLD_SIZE=" + worldSize + ")";
        String addr = env.get("MASTER_ADDR");
        String addrExpected = "the host name or address of rank 0";
        if (addr == null) problems.add("MASTER_ADDR is not set: expected " + addrExpected);
        else if (addr.isBlank()) problems.add("MASTER_ADDR=" + quoted(addr) + ": expected " + addrExpected);
        Integer port = integer(env, "MASTER_PORT", 1, 65535, "a TCP port in 1..65535, where rank 0's store listens",
                problems);
        Integer rank = integer(env, "RANK", 0, maxRank, range + ", the rank of this process", problems);
        Integer localRank = integer(env, "LOCAL_RANK", 0, maxRank, range + ", the rank of this process on its machine",
                problems);
        if (!problems.isEmpty())
            throw new UserInputException("distributed environment: " + String.join("; ", problems));
        return new Rendezvous(addr.strip(), port, worldSize, rank, localRank);
    }

    /** Whether there is more than one process. */
    public boolean isDistributed() {
        return worldSize > 1;
    }

    /** {@code "rank R of N"}, the prefix of this process's messages. */
    public String describe() {
        return "rank " + rank + " of " + worldSize;
    }

    private static Integer integer(Map<String, String> env, String name, int min, int max, String expected,
                                   List<String> problems) {
        String raw = env.get(name);
        if (raw == null) {
            problems.add(name + " is not set: expected " + expected);
            return null;
        }
        try {
            int v = Integer.parseInt(raw.strip());
            if (v >= min && v <= max) return v;
        } catch (NumberFormatException e) {
            // reported below
        }
        problems.add(name + "=" + quoted(raw) + ": expected " + expected);
        return null;
    }

    private static String quoted(String s) {
        return "'" + s + "'";
    }
}
