package normlab.data;

import java.io.IOException;

/**
 * A data file that is not what it claims to be: wrong magic number, impossible dimensions, truncated, wrong checksum.
 * The message names the file and what is wrong, so the user can delete or replace that one file.
 */
public class DataFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    public DataFormatException(String message) {
        super(message);
    }

    public DataFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
