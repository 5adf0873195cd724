import Foundation

/// Byte-exact files produced by the reference tools, embedded so the tests need no Python.
///
/// Generated with NumPy 2.4 (`numpy.save`, `numpy.lib.format.write_array(version:)`),
/// safetensors 0.8 (`safetensors.numpy.save_file`, which shares its writer with
/// `safetensors.torch.save_file`) and Python's zlib (gzip members around raw deflate streams).
enum Fixtures {
    static func bytes(_ base64: String) -> [UInt8] {
        let clean = base64.filter { !$0.isWhitespace }
        guard let data = Data(base64Encoded: clean) else { return [] }
        return [UInt8](data)
    }

    // MARK: NumPy

    static let numpyF32 = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAACAPwAAAEAAAEBAAACAQAAAoEA="
    static let numpyF64 = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDIpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAD4PwAAAAAAAADAnHUAiDzkN34AAAAAAAAKQA=="
    static let numpyF16 = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGYyJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDQsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAPAC4/3sBAA=="
    static let numpyV2 = "k05VTVBZAgB0AAAAeydkZXNjcic6ICc8ZjQnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMywpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAACAPwAAAEA="
    static let numpyV3 = "k05VTVBZAwB0AAAAeydkZXNjcic6ICc8ZjQnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAPBA"
    static let numpyBigEndian = "k05VTVBZAQB2AHsnZGVzY3InOiAnPmY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAP4AAAA=="
    static let numpyFortran = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMiwgMyksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAABAQAAAgD8AAIBAAAAAQAAAoEA="
    static let numpyInt64 = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAAAAEAAAAAAAAA"

    // MARK: safetensors

    /// `save_file({"weight": arange(6).reshape(2, 3), "bias": [1.5, -2.25, 1e-3], "Zeta": 3.0 (shape []),
    /// "émoji\"q": zeros((0, 4))}, metadata={"format": "pt"})`, all float32.
    static let referenceSafetensors = """
    EAEAAAAAAAB7Il9fbWV0YWRhdGFfXyI6eyJmb3JtYXQiOiJwdCJ9LCJaZXRhIjp7ImR0eXBlIjoiRjMyIiwic2hhcGUiOltd
    LCJkYXRhX29mZnNldHMiOlswLDRdfSwiYmlhcyI6eyJkdHlwZSI6IkYzMiIsInNoYXBlIjpbM10sImRhdGFfb2Zmc2V0cyI6
    WzQsMTZdfSwid2VpZ2h0Ijp7ImR0eXBlIjoiRjMyIiwic2hhcGUiOlsyLDNdLCJkYXRhX29mZnNldHMiOlsxNiw0MF19LCLD
    qW1vamlcInEiOnsiZHR5cGUiOiJGMzIiLCJzaGFwZSI6WzAsNF0sImRhdGFfb2Zmc2V0cyI6WzQwLDQwXX19IAAAQEAAAMA/
    AAAQwG8SgzoAAAAAAACAPwAAAEAAAEBAAACAQAAAoEA=
    """

    // MARK: gzip

    /// The IDX image file `idxImages` (dims [4, 28, 28], `lcgPixels(count: 3136, seed: 12345)`),
    /// zlib level 9: one block with dynamic Huffman codes.
    static let dynamic = """
    H4sIAAAAAAAC/0VWezuq3xYdz3POH+dDnA+LcmmLKCqRUERCue5QIhK55NKOHZJbcsld2/035so+h6fnXe9a611zrjnHGHMC
    //kXgH/z99/Sr7brHNBbYwgVMQI84eGzjyvwAr/laXzGIvBY6+l14HoeAYyb5jjdX5nBVQhDQDzO10xABxwkkPRXn3ZeIraF
    9jY0HQOLU1zNIjqB6ZQBOWBg8wu9nKvIvwOFHAI24HXBLaZwB3T0YxewmZyACV2ca+LhuADqOF7gz4KBANAK9VoFTIXQ/cGX
    gwKXgPEp8bqImnfuGkKyMukKjd8jiQHsQ2/Mwjp7BjQALRq/CdjmhSqV7XvgZHWfxlqv5VWLQezg+y8qZ47iOMz9MCKIdVgS
    jlvxbg+ffHRjC5qHzYIuy5d0rNuOJvdv6Mt5iFc5qo+7EePXDx3wgyPgBY/IG4vABA3DSldGkA10ckXD38R9Dy6xwv871AJj
    HTRjoOMm2VDPoD9i9IbDzu3ZD51jnLP1Prk279JZH/lcneZair8PvPE5qkZO9PC5bxx84bHAJK98xWe4RzaWHa6PLERjs8DI
    WXnDAm/oSUdTuQXMLsL6wpyUFzBUi7wZcN/hg/mqjD+9pZzYA1xoh/EAY7vYi6NZUGTZRpQBbfde1KrITrfA84CMvVeHfhpz
    dtAggdEU0OJ8GKtAIIECF3gYqiF+vp8kfOgbQ8Yx86BykNoNzBpQ1oJZdB9b8icy1zod2cOXjNq6YUMfyvEKralDoRdEHzpw
    pmV2wnNv4rHsPL6FiUCxEnYJZpPZaxXchLqyjQtEuqtLQv7SiAnP4xg+3t+xFsQ48f52ZrYTLJgrL2Hixzc2DpmVSjE19Qbk
    TsJt3/MSYuLM8HyBF7cX1ts/kmnMhOFg4iouclq+PRyWNvvhPUUFB42MVtCfGj9MvKmF+hCjBTC3Z1EsJDc4RfuS3QM8xZUF
    4PJK7e2VSfo1KC8JmMNkn6yTDIADp3j+i+cNRjzjkyhpYnaMywckI55M3Elw4ZuNo9yGrU/oV71R4aFQGdUjwmdSVGUSavYV
    5Mwa8Kc0o32kdFSTswQL00qHf8zLHeaLRl6QPi+Rv59/+FGCV68RpvMqg20ac9QO/9QVQgktSRZCKCMRz4ckxx+CzZkhbtze
    cc0o/66wRuN1VcLJtMzMLB+OkOaESAq2jqDykhjIwSE3anINtjBRFidWRwkdwwC6+3RGsVDpf0UuvytHdPOeDNSAXGbrRWbO
    Dv4XkUOU6yUEGROlRfmQR5lKUw/idzI46g9Y4Gv9QmjpUowPQ6g9e1qBKlHVD8e7ovNX2N/csyYHXjM8T/KliZEqG+D1Ljg8
    bqc+9MI8igNJjuP2rOoSksZGJIQn6U/J10+N8mpzrlHHFJzSGJnMrFzia/it7h3lHrPAI8IkzGguseZ4abhGJ3TObxh8NcRc
    BIYNuyuE1OcJbHsoqx6DSpyZ8uersyfVzmFKWAYrA+KCQMVDih1WduE2lAkW0TQjcyNfxXQJYZZjBUYFh2zTpTjEEoLkzKys
    nld52jpB8dxE+cgxzDZc3lqEYou46VAU4H4GvB1HRGopzICunJJ0IYCaxlYWf95L00xerh2YX65SQDTJXKfgoef7u0IZ/B8S
    UeVPTY6nUHiFKafLSpqIW5ECEsIBLEvigW9oD0fo1bqMnEI8HGgo86QTFYruFy214xqsUmkiPoUc1pQyJTxow1EKiz4bztF+
    9FY3Z8JRVd5xtmIznv8qisYtY0f7EMPeTjOZYsUkqf9MnIyLHyxqCWU+Ybntv8qp4fMp6u7CfsZkwE8Z+yV+B+vqRRsmRH83
    wwbRnQUDMqRdUssa8nlq5gVFHCepIUvOhSKCpMbTmghTEGHF3Ak0t85v9NNXsRKHXdXO+WHCKd7BKAr2rNGDa3sgCp28kfwM
    AYV4CuYd/CTo/orAFBHLL+SEXXPhHttzTY1CfdEmXRVafUEyiyyte46+2WAQzbtF1rUpLYZ34Ead0pXH1F0Vrvv1sT8eDPWQ
    Epc01yfFN5tXW14J+5LojHJAAljrX1lXW1CZ3LuZxrNO5NIr1zbiznbI8BJTBNKm08X8hgqSzlxrkBK2QAy4Kf2MxFisVGIU
    Sg4x3FwVaYSeN82uaJnsBAla+ysyiOqIVEoUJkswP0ExJWdXBHnYA0eT06u4ITI7e44kjVctkzfQGmGy43dvi9KJrXXvIm0X
    vtjTrNT81WNLrxR1u7QzOH5is4Lkzo3qdRj0X8LGVWkaZu5/qu0TxO08hX5F0DMq0tTrVo3SfrVss0oOJ88TGq0qqI6SDb0N
    GybqLlPiMXsVfW4ZUmIjveVhEasuIW0qGjAQynnvdyNSDylEhZARHrYQLJgwGNTG8x6FFePSN2Fcor/1Vz7GM66XiS5M3Svr
    DzftY6p2PAxIkd/H///SaBgq8ZEcli7FQ8oINM/vQiIEWx5c5KRglDE6r05qYzHL8ryGl20SM21CrC1dqrNIv2H8xVnTzc5Q
    x2uzJdykGrSVY8vc0RJSJVO0YySpRJkWfCFxas9FGK05qPFmp9eH6TUNzx/GtG55E6Osc63HBBQbh2usMyTxQk+8UdqI1NU+
    WVp2hmFnVCActLf/oFuWyTucM9PNbmPKLWbm0SLlI3GhiGJh6peWj5TAqRb7CvODFih5SiN7QbGLbOhLoeG1K9AcmfjclYqE
    G7cq9e5FOSUDQ8MdfjyyS33ak/vWOrbPbdIoqx5Z+jlKjIS6tyKuGhFYwy7pmpN7UpFhks5dpL0OlSxg92a2bVnB2ZI0IXr9
    q14Yyks/Tz7PY9qL1X7M+oXcr9LusmK50HDh+Yl/AGo6DC1QDAAA
    """
    /// The IDX label file `[10]` with bytes 0...9, level 9 (fixed Huffman codes), with FEXTRA,
    /// FNAME, FCOMMENT and FHCRC header fields.
    static let headerFlags = """
    H4sIHgAAAAAC/wYAQUICAHh5bGFiZWxzLmlkeABoaQArK2Ng4GBkYGDgYmBkYmZhZWPn4AQAXmy66RIAAAA=
    """
    /// The same label file at level 0: a stored block.
    static let stored = """
    H4sIAAAAAAAC/wESAO3/AAAIAQAAAAoAAQIDBAUGBwgJXmy66RIAAAA=
    """
    /// `idxImages` split after 1000 bytes into two gzip members (levels 6 and 1).
    static let multiMember = """
    H4sIAAAAAAAC/y2SaVOSYRiFr5n60I/ox4ZCZZgmWOIKLogLaqTikEpggcyQSSZD7jIa5BKpaEaAdp5XYZ651/fezoFHD4CH
    eo/vnnPgJzR7UkSvmYYryjejihCETSNdf1iGS+fYiJdfn4gQdi/JPe7Y4zTKFKTTMvciTbCbIRt69qP/hNQ3+npoP4DleUXz
    JOdYyLVShIm1W0bkaziqQalIpAv+JQKmFefgG2cDutyD4GZAvnYV5xheSk/odTARgW4s8ynMR/HXZeyWFILwvJn6muc1ZU2R
    dWSHouELskywQ7MrjydegFfQ2Rhyw7oWcli9L+BwZUfNun8Z084k37n/JU3NGQ5iysfFIqt0ZLxnZrptbiT8fKOxvFZqysvY
    Svl7aQ9s0mxTkaA1aHM6QEpfl32EkAYVLjlyXcOcGuPRKNPkI/2KNOrNXQxzwmf9z3HCrE9tWjW42yS06OiXzPyW2r8erzd5
    w/K2vDVra5f+lo83KwuK5fTqVCVnLG2QYckd12RFZeG9Vj6VjA2bxCf7q9OJZCoO0wXbq4Q2HNtK5ooJ4st4KsLEVmLKydEb
    CJxTF16O9FU1N8g2DNGHa5fZDbbTvDYs6lgnqYP2BY+d1mUXOhkrs9c70sS4mg361FDEaI/Y+fmOFYhkKCmgYjzDzFk7zLxl
    dJY974eyhUFuIxJv5UkncfwHHUeHxte98HGbW6P1+OliFBv/sLt9FnsR+/BRsAud2FLVTGwyD85wiyge0S4jNIVet+FNdCDf
    lhDThwbMySttzI1dzlKv1fiySFh8rxbe9IosLNnuOPHinhv7QsVhWs1XoXgY67n3mxOLZ61/jqkEgnjO/hqk+RDDK+Aajot2
    WeX9u+QQwR80SGnTtRZDufB+pmoFWqK6FgjbQpJE9qtc6m/Q3eUqbXWAk1Mrd8Q4Ndek9P+abceD6AMAAB+LCAAAAAAAAv89
    lYs/20sQxb9/egjRtPFKSCpBtFE0QiPUbUlCKzSepSi9VISLeBRpSzyKeybu5+7nY7M7O7u/mTPnDBbxj8MnGqDEEwizxyX/
    jaV5yMUhhjPbxnC/zH/0d+GTZ50W3WW/4pDcWL7HMx+boglGzVwzCHn9Bum1bdl6ww9YgKtHS9Vv/qbmCPzan1IBTzMQJ1Py
    0ihTwzQh7q90aREGFJyPWehvdfqn2hgYPSG9WEWKNOkc7+EwzQPcZT/A2Bs5rqx3jtmHiicsKKRaF3jZMMvYzPYg3+EDawQ7
    UrIE9ddxQNgyaursb9mFQIT5IULJ+j5evXZ77QvVAzccHH6TD6+Up4Dqs2SWr82yv6XpEZFtKjza1OR8vKEcwyEOGajrYrZo
    i53e9wHioQfS08f28QQ8Vzx7lbhe6/gu/Idn8PZhfKC5S4BtC4MKLuymT0g5+pTekZa77VzTg3+ILStO+HzfdYyVsZHFUxk2
    7q1e75ya4MvHRjc3qm9CaVtVjnlI3Nb+oSLqV/mZUBHGnMcshK8bfvACd6R8DR4asp0iRpBvcyS5/4fgJo6atzpV4fysE69t
    Wy37Jpgkx1yfhWBUiXYo9uqXnKdzqRJNY2YbfChtPDIsIJR75Gh0yDcp8GMREVbHVEEouKKtLzhX3FQM7uIPcnweYNjIetah
    czFEV7ppZweWHmEGdwWfOTJCJVnOc2X5a6h4B+2QmREJxAWf2V4YH7rK5VHmDgbuDFEdXPHkQK/wW+st9mbgp1YLVicRMReG
    GSu8hkDUSEwoKvlDZMnmLSfLJqcaLPxS4Nmwk/mYAI7b6StocUhSGq3srPEpHqRA+85t7UcfO67D8P5c0Fv4WtqUwwzrVb+y
    bK43SynPGakU58STYYsDV3lWTIHz3pMDe4/LPWqL4wPCpG+Aar5a3KnaOgXGX9DJl/H6Vpkm68lJdqtVOLnf8yvBB1lH0jAd
    mSyRkjQuFubsLuOaR3W5OZRZ6lWs2kqEbZpLZBKi02yHUNQIP5/a+tH2fgq37SR+QfChXnf967wT6R7HqAxSi7f8wjf/6U9W
    PjY1mvRP5OB2EYqnpCyptPZy6jZIvYQvEPOdX3TsjfWdlZ95echo0cWPXk/2KsqbLkniWJ+TcobIH5ZdbkR7LVTrIS2cklfd
    DSu0UL26eZbk0i1IiFnaXorBbcHbIVWKbJFO1Td9auU8CKXUwibFge4AhsTbrKxIPcaSbRLNrolGPMo0P1elYi9KoM++TvRT
    M6FzB6cj5k3gH0pr9nZlSo/90mokOc+ZmPmiS1YXJy0jZ1R58bXxd0+LXalb/hz7pG+fPuQ4mjMxlUdAaqkTdCIxuxdIc6vr
    hkjAQP9qalQnzjL201JHVftJhqfMGXuGumXp0SR4vyvYrDWcEiOFRWcViGxK24YnyJJPfVclifpjClIkFqTixsZydHufmgMz
    MTr1vl5UPjQeC12Fdav5NO0lyp2AhnrVTqPQpamEd7q86xUJ1X/rTuLCc9ZjCnrJqGiqr/86a39rBeNXnwpq/fn/sUHDm0c9
    SsNDMkclmXH9FoppawTLUY4UV8O0Q+jcRNQbS3mKkuz1ioS54SPbKkrJQVncMnwdefIqJLop7TuV3CclVrDs72hJq2vYSDIo
    cBO2LMTTFtRmp2i0EFaP90dicZILTr2fIOme+cJQHkK7IlQ16tOfBcnsaddso3asnXyXSh37JCJTRuFUW/tThRUYKVJQpZu7
    vWvd9pkMLXqaxaOyUAIq/fSMuKEGpxGTODL9oqC1pw3yR2p2E0sCz4bSrqR54q/7byosnHVbknR/MlbkqG8o8vQ3VVyowm6e
    hVcK6mI5eUwajzUkfkHdUzk7Zzuej6tAIVblrhr40voHZq29lmqH2qCfZoUmnk1Xyujx3HhMoUr6cuQyQzLGfC8fBkzcN/ey
    6z9WJw1H0Xf8C2iRHvtoCAAA
    """
}
