// Plots of fields: a 2-D field as a titled heat map whose axes show the grid's physical
// coordinates, with a colour bar naming the quantity.

extension Field {
    /// A titled picture of a 2-D field: axis 1 (x) to the right, axis 0 (y) upwards, each axis
    /// spanning the cells the grid points stand for (periodic: [−h/2, L − h/2); Dirichlet: the
    /// interior [h/2, L − h/2]; Neumann: [0, L]), a colour bar captioned `valueLabel`.
    /// Errors: `.invalidArgument` for a field that is not 2-D, and as `FieldPlot.render`.
    public func plot(title: String, subtitle: String? = nil, valueLabel: String, colormap: Colormap = .aurora,
                     range: ColorRange = .automatic, xLabel: String = "x", yLabel: String = "y") throws(TesseraError) -> RasterImage {
        guard grid.dimensions == 2 else {
            throw .invalidArgument("Field.plot: a 2-D field is needed (grid \(grid.shape))")
        }
        func extent(_ a: Int) -> ClosedRange<Double> {
            let h = grid.spacing(a)
            return (grid.coordinate(a, 0) - h / 2)...(grid.coordinate(a, grid.shape[a] - 1) + h / 2)
        }
        var p = FieldPlot(title: title, xAxis: PlotAxis(xLabel, range: extent(1)), yAxis: PlotAxis(yLabel, range: extent(0)),
                          valueLabel: valueLabel, colormap: colormap, range: range)
        p.subtitle = subtitle
        // the data area keeps the domain's aspect ratio; its longer side is the larger grid side
        // times a whole factor (or FieldPlot.defaultSide for grids larger than that)
        let n = max(grid.shape[0], grid.shape[1]), side = FieldPlot.defaultSide
        let long = Double(n <= side ? n * (side / n) : side)
        let (lx, ly) = (extent(1).upperBound - extent(1).lowerBound, extent(0).upperBound - extent(0).lowerBound)
        p.plotWidth = max(16, Int((long * lx / max(lx, ly)).rounded()))
        p.plotHeight = max(16, Int((long * ly / max(lx, ly)).rounded()))
        return try p.render(toArray(), rows: grid.shape[0], cols: grid.shape[1])
    }
}
