package normlab.io;

/** A model, checkpoint or data file is malformed, truncated or inconsistent; the message names the file and what is wrong. */
public class ModelFileException extends java.io.IOException {
    public ModelFileException(String message) {
        super(message);
    }

    public ModelFileException(String message, Throwable cause) {
        super(message, cause);
    }
}
