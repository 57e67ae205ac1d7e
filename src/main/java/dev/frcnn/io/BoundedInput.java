package dev.frcnn.io;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;

/**
 * A byte stream with a known number of readable bytes (what is left of the file or zip entry). Every
 * length read from the data is checked against that count before anything is allocated, so a corrupt or
 * hostile length field gives a {@link WeightsFormatException}, never an {@link OutOfMemoryError}.
 */
final class BoundedInput {
    /** Largest single byte array we hand out (a little below the JVM's array limit). */
    static final int MAX_ARRAY = Integer.MAX_VALUE - 16;

    private final InputStream in;
    private final Path file;
    private final String what;
    private final long limit;
    private long pos;

    /**
     * @param in    the stream (positioned at the first byte)
     * @param limit how many bytes may be read from it at most (e.g. the file size)
     * @param file  for messages
     * @param what  which part of the file this is (e.g. {@code "data.pkl"}), for messages
     */
    BoundedInput(InputStream in, long limit, Path file, String what) {
        this.in = in;
        this.limit = limit;
        this.file = file;
        this.what = what;
    }

    Path file() {
        return file;
    }

    String what() {
        return what;
    }

    long position() {
        return pos;
    }

    long remaining() {
        return limit - pos;
    }

    private WeightsFormatException truncated(long wanted) {
        return new WeightsFormatException(file, "truncated " + what + ": needed " + wanted
                + " more byte(s) at offset " + pos + ", but the data ends there");
    }

    int readByte() throws IOException {
        if (pos >= limit) throw truncated(1);
        int b = in.read();
        if (b < 0) throw truncated(1);
        pos++;
        return b;
    }

    /** Reads exactly {@code n} bytes; {@code n} is checked against what is left before allocating. */
    byte[] readBytes(long n, String field) throws IOException {
        checkAvailable(n, field);
        if (n > MAX_ARRAY) {
            throw new WeightsFormatException(file, what + ": " + field + " of " + n + " bytes is too large");
        }
        byte[] b = new byte[(int) n];
        readFully(b, 0, b.length);
        return b;
    }

    /** Fails unless {@code n >= 0} and at least {@code n} bytes are left. */
    void checkAvailable(long n, String field) throws WeightsFormatException {
        if (n < 0) {
            throw new WeightsFormatException(file, what + ": negative " + field + " (" + n + ") at offset " + pos);
        }
        if (n > limit - pos) {
            throw new WeightsFormatException(file, what + ": " + field + " claims " + n + " bytes at offset " + pos
                    + ", but only " + (limit - pos) + " remain (truncated or corrupt file)");
        }
    }

    void readFully(byte[] b, int off, int len) throws IOException {
        if (len > limit - pos) throw truncated(len);
        int n = in.readNBytes(b, off, len);
        if (n < len) {
            pos += n;
            throw truncated(len - n);
        }
        pos += len;
    }

    long readLongLE() throws IOException {
        byte[] b = new byte[8];
        readFully(b, 0, 8);
        long v = 0;
        for (int i = 7; i >= 0; i--) v = (v << 8) | (b[i] & 0xFF);
        return v;
    }

    /** A {@code \n}-terminated line (without the newline), at most {@code max} bytes, as UTF-8. */
    String readLine(int max) throws IOException {
        StringBuilder sb = new StringBuilder();
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        while (true) {
            int b = readByte();
            if (b == '\n') break;
            if (bytes.size() >= max) {
                throw new WeightsFormatException(file, what + ": text line longer than " + max + " bytes at offset " + pos);
            }
            bytes.write(b);
        }
        sb.append(bytes.toString(java.nio.charset.StandardCharsets.UTF_8));
        return sb.toString();
    }
}
