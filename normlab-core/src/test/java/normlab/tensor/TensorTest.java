package normlab.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Tensor: views share data, indexing is row-major, and every shape error names the operation and the shapes. */
class TensorTest {
    private static void assertMessage(Throwable e, String... parts) {
        for (String p : parts) assertTrue(e.getMessage().contains(p), "'" + e.getMessage() + "' lacks '" + p + "'");
    }

    @Test
    void viewSharesDataWithoutCopying() {
        Tensor t = Tensor.zeros(2, 3, 4);
        Tensor v = t.view(6, -1);
        assertArrayEquals(new int[] {6, 4}, v.shape());
        assertSame(t.data, v.data);
        v.data[5] = 3f;
        assertEquals(3f, t.at(0, 1, 1));
        assertEquals(5, t.offset(0, 1, 1));
        assertArrayEquals(new int[] {24}, t.view(-1).shape());
        Tensor c = t.copy();
        assertNotSame(t.data, c.data);
        c.data[5] = 0f;
        assertEquals(3f, t.data[5]);
    }

    @Test
    void shapeErrorsNameOperationAndShapes() {
        Tensor t = Tensor.zeros(2, 3, 4);
        assertMessage(assertThrows(ShapeException.class, () -> t.view(5, 5)), "view", "[2, 3, 4]", "[5, 5]");
        assertMessage(assertThrows(ShapeException.class, () -> t.view(5, -1)), "view", "[2, 3, 4]", "[5, -1]");
        assertMessage(assertThrows(ShapeException.class, () -> t.view(-1, -1)), "view", "-1");
        assertMessage(assertThrows(ShapeException.class, () -> Tensor.of(new float[5], 2, 3)), "Tensor.of", "5", "[2, 3]");
        assertMessage(assertThrows(ShapeException.class, () -> Tensor.zeros(2, -1)), "zeros", "[2, -1]");
        assertMessage(assertThrows(ShapeException.class, () -> Tensor.requireShape("Linear '0' backward", t, 2, 3)),
                "Linear '0' backward", "[2, 3, 4]", "[2, 3]");
        assertMessage(assertThrows(ShapeException.class, () -> Tensor.requireRank("conv", t, 4)), "conv", "[2, 3, 4]", "rank 3", "4");
        assertMessage(assertThrows(ShapeException.class, () -> t.copyFrom(Tensor.zeros(3, 2, 4))), "copyFrom", "[3, 2, 4]", "[2, 3, 4]");
        assertMessage(assertThrows(ShapeException.class, () -> t.at(1, 2)), "at", "[2, 3, 4]");
        assertThrows(IndexOutOfBoundsException.class, () -> t.at(2, 0, 0));
    }

    @Test
    void scalarsAndFill() {
        Tensor s = Tensor.scalar(4f);
        assertEquals(0, s.rank());
        assertEquals(1, s.numel());
        assertEquals(4f, s.get(0));
        Tensor f = Tensor.full(1.5f, 3);
        f.zero();
        assertArrayEquals(new float[3], f.data);
        assertTrue(Tensor.zeros(2, 2).sameShape(Tensor.zeros(2, 2)) && Tensor.zeros(2, 2).hasShape(2, 2));
    }
}
